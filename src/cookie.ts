/**
 * Reading the session cookie from a `Cookie` header and building `Set-Cookie` values.
 * Parsing never throws (bad input is "no session"); bad options throw `TypeError` at
 * construction. Grammar: RFC 6265 section 4.1.1.
 * @module
 */
import { CookieTooLargeError } from "./errors.ts";
import { isWellFormedToken } from "./token.ts";

/** How the session cookie is written. Every field is optional; defaults are the safe ones. */
export interface CookieOptions {
  /** Cookie name. A `__Host-` name requires `secure: true`, `path: "/"` and no domain. @default "session" */
  name?: string;
  /** Domain attribute (RFC 6265 §5.2.3). @default undefined (host-only) */
  domain?: string;
  /** Path attribute (RFC 6265 §5.2.4). @default "/" */
  path?: string;
  /** HttpOnly: hidden from `document.cookie` (RFC 6265 §5.2.6). @default true */
  httpOnly?: boolean;
  /** Secure: HTTPS only (RFC 6265 §5.2.5). Required by `sameSite: "none"` and `partitioned`. @default false */
  secure?: boolean;
  /** SameSite (RFC 6265bis §5.5.7); `false` leaves the attribute out. @default "lax" */
  sameSite?: "lax" | "strict" | "none" | false;
  /** Partitioned (CHIPS); requires `secure`. @default false */
  partitioned?: boolean;
  /** Write Expires/Max-Age; with `false` the cookie lasts the browser session unless `rememberMe(true)`. @default true */
  persist?: boolean;
}

/** Cookie options with every default filled in and validated. */
export interface ResolvedCookieOptions {
  readonly name: string;
  readonly domain: string | undefined;
  readonly path: string;
  readonly httpOnly: boolean;
  readonly secure: boolean;
  readonly sameSite: "lax" | "strict" | "none" | false;
  readonly partitioned: boolean;
  readonly persist: boolean;
  /** `; Path=/; HttpOnly; SameSite=Lax`: the attributes that never change, built once. */
  readonly fixedAttributes: string;
}

/** Browsers drop a cookie whose name, value and attributes exceed 4096 bytes. */
export const MAX_COOKIE_BYTES = 4096;

// token = 1*<any CHAR except CTLs or separators> (RFC 6265 §4.1.1 via RFC 2616 §2.2)
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// domain: letters, digits, hyphens and dots, optionally a leading dot (RFC 6265 §4.1.2.3)
const COOKIE_DOMAIN =
  /^\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
// path-value = <any CHAR except CTLs or ";"> (RFC 6265 §4.1.1)
const COOKIE_PATH = /^\/[\u0020-\u003A\u003C-\u007E]*$/;

const defaults = {
  name: "session",
  path: "/",
  httpOnly: true,
  secure: false,
  sameSite: "lax",
  partitioned: false,
  persist: true,
} as const satisfies CookieOptions;

function invalid(option: string, value: unknown, why: string): TypeError {
  return new TypeError(`option cookie.${option} is invalid: ${JSON.stringify(value)} (${why})`);
}

function checkBoolean(option: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw invalid(option, value, "expected a boolean");
  return value;
}

/**
 * Fills in defaults and validates cookie options.
 * @returns the resolved options.
 * @throws TypeError naming the option when a value is malformed or unsafe.
 */
export function resolveCookieOptions(options: CookieOptions = {}): ResolvedCookieOptions {
  const merged = { ...defaults, ...stripUndefined(options) };
  const { name, domain, path, sameSite } = merged;
  if (typeof name !== "string" || !COOKIE_NAME.test(name)) {
    throw invalid("name", name, "must be an RFC 6265 token");
  }
  if (domain !== undefined && (typeof domain !== "string" || !COOKIE_DOMAIN.test(domain))) {
    throw invalid("domain", domain, "must be a host name");
  }
  if (typeof path !== "string" || !COOKIE_PATH.test(path)) {
    throw invalid("path", path, "must start with / and contain no control characters or ;");
  }
  if (sameSite !== false && sameSite !== "lax" && sameSite !== "strict" && sameSite !== "none") {
    throw invalid("sameSite", sameSite, 'expected "lax", "strict", "none" or false');
  }
  const httpOnly = checkBoolean("httpOnly", merged.httpOnly);
  const secure = checkBoolean("secure", merged.secure);
  const partitioned = checkBoolean("partitioned", merged.partitioned);
  const persist = checkBoolean("persist", merged.persist);
  if (sameSite === "none" && !secure) {
    throw invalid("sameSite", sameSite, 'sameSite "none" requires secure: true');
  }
  if (partitioned && !secure) throw invalid("partitioned", true, "requires secure: true");
  if (name.startsWith("__Host-") && (!secure || path !== "/" || domain !== undefined)) {
    throw invalid("name", name, '__Host- cookies require secure: true, path "/" and no domain');
  }
  if (name.startsWith("__Secure-") && !secure) {
    throw invalid("name", name, "__Secure- cookies require secure: true");
  }
  let fixedAttributes = "";
  if (domain !== undefined) fixedAttributes += `; Domain=${domain}`;
  fixedAttributes += `; Path=${path}`;
  if (httpOnly) fixedAttributes += "; HttpOnly";
  if (secure) fixedAttributes += "; Secure";
  if (sameSite !== false) fixedAttributes += `; SameSite=${sameSiteLabel[sameSite]}`;
  if (partitioned) fixedAttributes += "; Partitioned";
  return { name, domain, path, httpOnly, secure, sameSite, partitioned, persist, fixedAttributes };
}

const sameSiteLabel = { lax: "Lax", strict: "Strict", none: "None" } as const;

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] !== undefined) out[key] = value[key];
  }
  return out;
}

/** 9999-12-31T23:59:59Z: the last instant a cookie date (four-digit year) can name. */
const LAST_COOKIE_DATE = Date.UTC(9999, 11, 31, 23, 59, 59);

/**
 * Builds a `Set-Cookie` value. With `expiry` null it is a deletion cookie (`Max-Age=0` and an
 * Expires in 1970); with `persistent` false it has neither Expires nor Max-Age (a browser-session
 * cookie).
 * @returns the header value.
 * @throws CookieTooLargeError when the cookie would exceed 4096 bytes (browsers drop it silently).
 */
export function serializeCookie(
  options: ResolvedCookieOptions,
  value: string,
  expiry: Date | null,
  persistent: boolean,
  now: number,
): string {
  let cookie: string;
  if (expiry === null) {
    cookie = `${options.name}=${options.fixedAttributes}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
  } else if (persistent) {
    // RFC 6265 §5.1.1 dates have four-digit years: a later expiry is written as the last one.
    const at = Math.min(expiry.getTime(), LAST_COOKIE_DATE);
    const capped = at === expiry.getTime() ? expiry : new Date(at);
    const maxAge = Math.max(1, Math.ceil((at - now) / 1000));
    cookie = `${options.name}=${value}${options.fixedAttributes}; Max-Age=${maxAge}; Expires=${httpDate(capped)}`;
  } else {
    cookie = `${options.name}=${value}${options.fixedAttributes}`;
  }
  if (cookie.length > MAX_COOKIE_BYTES) {
    throw new CookieTooLargeError(
      `the session cookie would be ${cookie.length} bytes; browsers drop cookies over ${MAX_COOKIE_BYTES} bytes`,
    );
  }
  return cookie;
}

// Expires has one-second resolution and a busy server writes the same second many times:
// formatting a Date is most of the cost of building a cookie, so the last one is kept.
let lastSecond = Number.NaN;
let lastHttpDate = "";

function httpDate(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastHttpDate = date.toUTCString();
  }
  return lastHttpDate;
}

/**
 * Finds the session token in a `Cookie` header. Never throws: a missing, malformed, quoted,
 * oversized or non-ASCII value is "no token". With duplicated names, the first well-formed token
 * wins (browsers send the most specific path first).
 * @returns a well-formed token, or undefined.
 */
export function readTokenFromCookieHeader(
  header: string | string[] | undefined,
  name: string,
): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== "string") {
    for (const part of header) {
      const token = readTokenFromCookieHeader(part, name);
      if (token !== undefined) return token;
    }
    return undefined;
  }
  const length = header.length;
  let from = 0;
  while (from < length) {
    const at = header.indexOf(name, from);
    if (at === -1) return undefined;
    from = at + name.length;
    // The name must start a cookie-pair: at the header start or after ";" and optional spaces.
    let before = at - 1;
    while (before >= 0 && (header.charCodeAt(before) === 32 || header.charCodeAt(before) === 9)) {
      before--;
    }
    if (before >= 0 && header.charCodeAt(before) !== 59 /* ; */) continue;
    let eq = from;
    while (eq < length && (header.charCodeAt(eq) === 32 || header.charCodeAt(eq) === 9)) eq++;
    if (header.charCodeAt(eq) !== 61 /* = */) continue;
    let end = header.indexOf(";", eq + 1);
    if (end === -1) end = length;
    let value = header.slice(eq + 1, end).trim();
    if (value.length === 45 && value.charCodeAt(0) === 34 && value.charCodeAt(44) === 34) {
      value = value.slice(1, 44); // DQUOTE cookie-value DQUOTE is allowed by RFC 6265
    }
    if (isWellFormedToken(value)) return value;
    from = end;
  }
  return undefined;
}

/**
 * Reads a token carried in a request header (the `{ header: "X-Session" }` transport).
 * @returns a well-formed token, or undefined.
 */
export function readTokenFromHeader(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === "string" ? value.trim() : value[0]?.trim();
  return text !== undefined && isWellFormedToken(text) ? text : undefined;
}
