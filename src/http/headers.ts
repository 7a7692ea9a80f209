/**
 * The headers of a session response — `Vary`, the session's `Set-Cookie` (or transport header)
 * and `Cache-Control: no-cache="Set-Cookie"` — merged with what the application set itself,
 * whether it used `setHeader` or passed headers to `writeHead`.
 * @module
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Transport } from "../options.ts";
import { defineOwnData } from "../own-data.ts";
import type { SessionHeader } from "./core.ts";

/** Where response headers are read and written: a `ServerResponse`, or an adapter's wrapper. */
export interface HeaderBag {
  getHeader(name: string): number | string | string[] | null | undefined;
  setHeader(name: string, value: string | string[]): unknown;
}

/** The headers one session adds to its response. */
export interface SessionHeaders {
  readonly transport: Transport;
  /** The session's own header, when it has one to send. */
  readonly header: SessionHeader | undefined;
}

/** What the application's session-related headers were before a session's were set. */
export interface HeadersBefore {
  vary: HeaderValue;
  cacheControl: HeaderValue;
  own: HeaderValue;
}

type HeaderValue = number | string | string[] | null | undefined;

/**
 * Sets a session's headers on `res`, merged with the application's: `Vary` always; when the
 * session has a header, that header (Set-Cookie appended to the application's cookies) and
 * `Cache-Control: no-cache="<name>"`. Idempotent: calling it again adds nothing twice.
 * @returns what those headers were before, for {@link takeBackSessionHeaders}.
 */
export function setSessionHeaders(
  res: HeaderBag,
  transport: Transport,
  header: SessionHeader | undefined,
): HeadersBefore {
  const vary = appendHeaderToken(res, "Vary", transport.vary);
  if (header === undefined) return { vary, cacheControl: undefined, own: undefined };
  const own = res.getHeader(header.name);
  if (header.name === "Set-Cookie") {
    if (own === undefined || own === null) res.setHeader("Set-Cookie", header.value);
    else if (Array.isArray(own)) {
      if (!own.includes(header.value)) res.setHeader("Set-Cookie", [...own, header.value]);
    } else if (String(own) !== header.value) {
      res.setHeader("Set-Cookie", [String(own), header.value]);
    }
  } else {
    res.setHeader(header.name, header.value);
  }
  const cacheControl = appendHeaderToken(res, "Cache-Control", `no-cache="${header.name}"`);
  return { vary, cacheControl, own };
}

/**
 * After Node refused a head: removes what {@link setSessionHeaders} added, and only that (what
 * Node kept of the refused call stays, as without a session).
 */
export function takeBackSessionHeaders(
  res: ServerResponse,
  transport: Transport,
  header: SessionHeader | undefined,
  before: HeadersBefore,
): void {
  removeTokenUnlessBefore(res, "Vary", transport.vary, before.vary);
  if (header === undefined) return;
  removeTokenUnlessBefore(res, "Cache-Control", `no-cache="${header.name}"`, before.cacheControl);
  const now = res.getHeader(header.name);
  if (header.name === "Set-Cookie" && Array.isArray(now)) {
    const kept = now.filter((cookie) => cookie !== header.value);
    if (kept.length === 0) res.removeHeader("Set-Cookie");
    else if (kept.length !== now.length) res.setHeader("Set-Cookie", kept);
  } else if (now === header.value) {
    if (before.own === undefined || before.own === null) res.removeHeader(header.name);
    else res.setHeader(header.name, before.own);
  }
}

function removeTokenUnlessBefore(
  res: ServerResponse,
  name: string,
  token: string,
  before: HeaderValue,
): void {
  if (before !== undefined && before !== null && hasToken(listText(before), token)) return;
  const now = res.getHeader(name);
  if (now === undefined || now === null) return;
  const kept = listText(now)
    .split(/\s*,\s*/)
    .filter((part) => part !== "" && part.toLowerCase() !== token.toLowerCase());
  if (kept.length === 0) res.removeHeader(name);
  else res.setHeader(name, kept.join(", "));
}

function listText(value: number | string | string[]): string {
  return Array.isArray(value) ? value.join(", ") : String(value);
}

/**
 * Adds `token` to a comma-separated header unless already present.
 * @returns the header's value before.
 */
function appendHeaderToken(res: HeaderBag, name: string, token: string): HeaderValue {
  const existing = res.getHeader(name);
  if (existing === undefined || existing === null) {
    res.setHeader(name, token);
    return existing;
  }
  const text = Array.isArray(existing) ? existing.join(", ") : String(existing);
  if (!hasToken(text, token)) res.setHeader(name, `${text}, ${token}`);
  return existing;
}

function hasToken(text: string, token: string): boolean {
  return text
    .toLowerCase()
    .split(/\s*,\s*/)
    .includes(token.toLowerCase());
}

/**
 * The arguments of a `writeHead(status, [reason], [headers])` call with the sessions' headers
 * put into its `headers` argument.
 *
 * - `inject` false (the application set headers with `setHeader`, and so did the sessions):
 *   Node lets `writeHead`'s headers replace those, so the sessions' `Vary`, `Set-Cookie` and
 *   `Cache-Control` are merged into the argument where it names them.
 * - `inject` true (no header was set before): Node takes its "only writeHead headers" path,
 *   which validates the argument as a whole and keeps nothing of it when a header is invalid.
 *   To keep that path exactly, the sessions' headers all go into the argument instead of
 *   `setHeader`.
 *
 * Every other header is left to Node, which validates and merges as it does without a session.
 * @returns the arguments to call Node's writeHead with (the caller's own are never mutated).
 */
export function mergeWriteHeadArgs(
  args: unknown[],
  sessions: readonly SessionHeaders[],
  inject: boolean,
): unknown[] {
  const at = typeof args[1] === "string" ? 2 : 1;
  const headers = args[at];
  if (headers === null || typeof headers !== "object") return args;
  let merged: unknown;
  if (Array.isArray(headers)) {
    const nested = headers.length > 0 && Array.isArray(headers[0]);
    if (!nested && headers.length % 2 !== 0) return args; // Node refuses it, as without a session
    merged = mergeIntoPairs(headers as unknown[], sessions, inject, nested);
  } else {
    merged = mergeIntoObject(headers as OutgoingHttpHeaders, sessions, inject);
    if (merged === headers) return args;
  }
  const out = args.slice();
  out[at] = merged;
  return out;
}

/**
 * The arguments of a `writeHead` call with the sessions' headers passed in the call itself
 * (for a response with no header set yet): merged into its headers argument, or as one.
 * @returns the arguments to call Node's writeHead with.
 */
export function injectWriteHeadHeaders(
  args: unknown[],
  sessions: readonly SessionHeaders[],
): unknown[] {
  const at = typeof args[1] === "string" ? 2 : 1;
  const given = args[at];
  if (given !== null && typeof given === "object") return mergeWriteHeadArgs(args, sessions, true);
  const out = args.slice(0, at);
  while (out.length < at) out.push(undefined);
  out[at] = mergeIntoObject({}, sessions, true);
  return out;
}

/**
 * A copy of a headers object's own enumerable string keys (the ones Node's writeHead reads).
 * Not `{ ...headers }`: V8 gives a spread copy a map outside the transition tree, so every key
 * added to it afterwards copies the map (~0.8 µs a key, measured, per response).
 * @returns the copy.
 */
function copyHeaders(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const key of Object.keys(headers)) {
    // `__proto__` is a header name like any other; an assignment would set the prototype.
    if (key === "__proto__") {
      defineOwnData(out, key, headers[key]);
    } else {
      out[key] = headers[key];
    }
  }
  return out;
}

/** Whether `lower` (a lower-cased header name) is the header one of the sessions sends. */
function namesSessionHeader(lower: string, sessions: readonly SessionHeaders[]): boolean {
  for (const { header } of sessions) {
    if (header !== undefined && header.name.toLowerCase() === lower) return true;
  }
  return false;
}

function mergeIntoObject(
  headers: OutgoingHttpHeaders,
  sessions: readonly SessionHeaders[],
  inject: boolean,
): OutgoingHttpHeaders {
  // The given keys that name a header merged here (lower-cased name → the last such key), in
  // one pass: usually none, and then the route's object is passed on as it is.
  let given: Record<string, string> | undefined;
  for (const key of Object.keys(headers)) {
    const lower = key.toLowerCase();
    if (lower === "vary" || lower === "cache-control" || namesSessionHeader(lower, sessions)) {
      given ??= Object.create(null) as Record<string, string>;
      given[lower] = key;
    }
  }
  if (given === undefined && !inject) return headers;
  const out = copyHeaders(headers);
  const keyOf = (name: string): string | undefined => {
    const found = given?.[name.toLowerCase()];
    // A value Node refuses (undefined, null) stays as given: Node throws, as without a session.
    if (found !== undefined)
      return out[found] === undefined || out[found] === null ? undefined : found;
    return inject ? name : undefined;
  };
  for (const { transport, header } of sessions) {
    const varyKey = keyOf("Vary");
    if (varyKey !== undefined) out[varyKey] = withToken(out[varyKey], transport.vary);
    if (header === undefined) continue;
    const key = keyOf(header.name);
    if (key !== undefined) {
      if (header.name === "Set-Cookie") {
        out[key] = cookiesWith(out[key], header.value) as string[];
      } else {
        out[key] = header.value;
      }
    }
    const cacheKey = keyOf("Cache-Control");
    if (cacheKey !== undefined) {
      out[cacheKey] = withToken(out[cacheKey], `no-cache="${header.name}"`);
    }
  }
  return out;
}

function mergeIntoPairs(
  headers: unknown[],
  sessions: readonly SessionHeaders[],
  inject: boolean,
  nested: boolean,
): unknown[] {
  const pairs: [unknown, unknown][] = [];
  if (nested) for (const pair of headers as unknown[][]) pairs.push([pair[0], pair[1]]);
  else for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
  // Node versions differ on repeated names here (some keep the last, some keep all), so ours
  // go into the last pair of that name: right either way.
  const lastOf = (name: string): [unknown, unknown] | undefined => {
    let found: [unknown, unknown] | undefined;
    for (const pair of pairs)
      if (String(pair[0]).toLowerCase() === name.toLowerCase()) found = pair;
    return found;
  };
  const addTo = (name: string, merge: (value: unknown) => unknown, fresh: string) => {
    const pair = lastOf(name);
    if (pair === undefined) {
      if (inject) pairs.push([name, fresh]);
    } else if (pair[1] !== undefined && pair[1] !== null) {
      pair[1] = merge(pair[1]); // (a value Node refuses stays as given: it throws, as without us)
    }
  };
  for (const { transport, header } of sessions) {
    addTo("Vary", (value) => withToken(value, transport.vary), transport.vary);
    if (header === undefined) continue;
    if (header.name === "Set-Cookie") {
      addTo("Set-Cookie", (value) => cookiesWith(value, header.value), header.value);
    } else {
      addTo(header.name, () => header.value, header.value);
    }
    const token = `no-cache="${header.name}"`;
    addTo("Cache-Control", (value) => withToken(value, token), token);
  }
  if (nested) return pairs;
  return pairs.flat();
}

function cookiesWith(value: unknown, cookie: string): unknown {
  const list = Array.isArray(value)
    ? value.map(String)
    : value === undefined
      ? []
      : [String(value)];
  return list.includes(cookie) ? value : [...list, cookie];
}

function withToken(value: unknown, token: string): string | number | string[] {
  if (value === undefined || value === null) return token;
  const text = Array.isArray(value) ? value.join(", ") : String(value);
  return hasToken(text, token) ? (value as string | number | string[]) : `${text}, ${token}`;
}

let headerTable: symbol | undefined;

/**
 * Whether Node keeps a header table for `res` (any setHeader, even if removed since), which
 * decides how its writeHead merges headers. Node has no public way to ask: its table is the
 * symbol-keyed property `kOutHeaders` (Node 20 to 26); without it, whether headers are set.
 * @returns whether `res` has a header table.
 */
export function hasHeaderTable(res: ServerResponse): boolean {
  headerTable ??= Object.getOwnPropertySymbols(res).find((s) => s.description === "kOutHeaders");
  if (headerTable === undefined) return res.getHeaderNames().length > 0;
  const table = (res as unknown as Record<symbol, unknown>)[headerTable];
  return table !== null && table !== undefined;
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
 * The headers of the route's answer that an error response replacing it must not carry: its
 * representation ({@link REPRESENTATION_HEADERS}) and what would act on the client or a cache
 * as if the route had succeeded — its cookies, its caching, its redirect. Headers set for every
 * response (CORS, security headers) stay.
 */
export const ROUTE_ANSWER_HEADERS: readonly string[] = [
  ...REPRESENTATION_HEADERS,
  "set-cookie",
  "cache-control",
  "expires",
  "location",
];

/**
 * Removes the route's answer headers ({@link ROUTE_ANSWER_HEADERS}) from a response whose
 * answer will be replaced by an error response, unless they already went out.
 */
export function dropRouteAnswerHeaders(res: ServerResponse): void {
  if (res.headersSent) return;
  for (const name of ROUTE_ANSWER_HEADERS) res.removeHeader(name);
}
