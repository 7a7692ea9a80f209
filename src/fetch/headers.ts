/**
 * The session headers of a Fetch API `Response` — `Vary`, the session's `Set-Cookie` (or
 * transport header) and `Cache-Control: no-cache="Set-Cookie"` — merged with the application's,
 * as `sessions.handler` sets them on a node response.
 * @module
 */

import type { SessionHeader } from "../http/core.ts";
import type { Transport } from "../options.ts";

/**
 * Adds a session's headers to `headers`: `Vary` always; when the session has a header to send,
 * that header (a `Set-Cookie` is appended to the application's cookies, a transport header
 * replaces one of the same name) and `Cache-Control: no-cache="<name>"`. Tokens already in
 * `Vary` or `Cache-Control` are not added twice.
 * @throws TypeError when `headers` is immutable (a `fetch()` or `Response.redirect()` answer).
 */
export function addSessionHeaders(
  headers: Headers,
  transport: Transport,
  header: SessionHeader | undefined,
): void {
  appendToken(headers, "Vary", transport.vary);
  if (header === undefined) return;
  if (header.name === "Set-Cookie") headers.append("Set-Cookie", header.value);
  else headers.set(header.name, header.value);
  appendToken(headers, "Cache-Control", `no-cache="${header.name}"`);
}

/**
 * `response` with a session's headers added (see {@link addSessionHeaders}). A response whose
 * headers are immutable is copied first — same status, headers and body stream, not read.
 * @returns `response` itself, or its copy.
 */
export function withSessionHeaders(
  response: Response,
  transport: Transport,
  header: SessionHeader | undefined,
): Response {
  try {
    addSessionHeaders(response.headers, transport, header);
    return response;
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
  }
  // The guard refuses the first write, so nothing was added to the original.
  const copy = new Response(response.body, response);
  addSessionHeaders(copy.headers, transport, header);
  return copy;
}

/**
 * Whether a comma-separated header value (`Vary`, `Cache-Control`) lists `token`,
 * case-insensitively.
 * @returns false for a missing header.
 */
export function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  if (value === token) return true; // the common case, without splitting
  const wanted = token.toLowerCase();
  for (const part of value.split(",")) if (part.trim().toLowerCase() === wanted) return true;
  return false;
}

function appendToken(headers: Headers, name: string, token: string): void {
  const existing = headers.get(name);
  if (existing === null || existing === "") headers.set(name, token);
  else if (!hasToken(existing, token)) headers.set(name, `${existing}, ${token}`);
}
