/**
 * The headers of a session response: `Vary`, the session's `Set-Cookie` (or transport header)
 * and `Cache-Control`, merged with what the application set itself.
 * @module
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { SessionHeader } from "./manager.ts";
import type { Transport } from "./options.ts";

/** Where response headers are read and written: a `ServerResponse`, or an adapter's wrapper. */
export interface HeaderBag {
  getHeader(name: string): number | string | string[] | null | undefined;
  setHeader(name: string, value: string | string[]): unknown;
}

/**
 * Sets the headers of a session response: `Vary` always; when `header` is given, that header
 * (Set-Cookie is appended to others) and `Cache-Control: no-cache="<name>"`.
 * Shared by `handler` and the adapters.
 */
export function setSessionHeaders(
  res: HeaderBag,
  transport: Transport,
  header: SessionHeader | undefined,
): void {
  appendHeaderToken(res, "Vary", transport.vary);
  if (header === undefined) return;
  if (header.name === "Set-Cookie") {
    const existing = res.getHeader("Set-Cookie");
    if (existing === undefined || existing === null) res.setHeader("Set-Cookie", header.value);
    else if (Array.isArray(existing)) res.setHeader("Set-Cookie", [...existing, header.value]);
    else res.setHeader("Set-Cookie", [String(existing), header.value]);
  } else {
    res.setHeader(header.name, header.value);
  }
  appendHeaderToken(res, "Cache-Control", `no-cache="${header.name}"`);
}

/** Adds `token` to a comma-separated header unless already present. */
function appendHeaderToken(res: HeaderBag, name: string, token: string): void {
  const existing = res.getHeader(name);
  if (existing === undefined || existing === null) {
    res.setHeader(name, token);
    return;
  }
  const text = Array.isArray(existing) ? existing.join(", ") : String(existing);
  if (
    text
      .toLowerCase()
      .split(/\s*,\s*/)
      .includes(token.toLowerCase())
  )
    return;
  res.setHeader(name, `${text}, ${token}`);
}

/**
 * Headers passed to `writeHead(status, [reason], headers)` take precedence over `setHeader`
 * ones in Node, which would drop the session cookie. Move them into `setHeader` first.
 */
export function absorbHeaders(res: ServerResponse, args: unknown[]): unknown[] {
  const last = args.length > 1 ? args[args.length - 1] : undefined;
  if (last === undefined || last === null || typeof last !== "object") return args;
  if (Array.isArray(last)) {
    for (let i = 0; i + 1 < last.length; i += 2)
      res.appendHeader(String(last[i]), last[i + 1] as string);
  } else {
    for (const [name, value] of Object.entries(last as OutgoingHttpHeaders)) {
      if (value === undefined) continue;
      if (name.toLowerCase() === "set-cookie") res.appendHeader(name, value as string | string[]);
      else res.setHeader(name, value);
    }
  }
  return args.slice(0, -1);
}

/** Headers that describe the route's body; an error response replacing it must not keep them. */
export const REPRESENTATION_HEADERS: readonly string[] = [
  "content-type",
  "content-length",
  "content-encoding",
  "content-language",
  "etag",
  "last-modified",
];

/**
 * Removes the route's representation headers (Content-Type, Content-Length, ETag...) from a
 * response whose body will be replaced by an error response, unless they already went out.
 */
export function dropRepresentationHeaders(res: ServerResponse): void {
  if (res.headersSent) return;
  for (const name of REPRESENTATION_HEADERS) res.removeHeader(name);
}
