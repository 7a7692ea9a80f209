/**
 * SessionManager options: their types, defaults and validation.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Codec } from "./codec.ts";
import { type CookieOptions, type ResolvedCookieOptions, resolveCookieOptions } from "./cookie.ts";
import type { Store } from "./store.ts";

/**
 * Called when loading or saving a session fails in a request (store down, codec refusal...).
 * The default logs the error (never the token) and answers 500, or 503 for
 * `StoreUnavailableError`. After headers were sent it aborts the connection.
 */
export type ErrorHandler = (err: unknown, req: IncomingMessage, res: ServerResponse) => void;

/** Where the manager writes warnings (corrupt stored data) and errors. @default console */
export interface Logger {
  warn(message: string): void;
  error(message: string): void;
}

/** Options of `new SessionManager(options)`. Every field is optional. */
export interface SessionManagerOptions {
  /** Where sessions live. @default new MemStore() */
  store?: Store;
  /** Absolute lifetime of a session in ms, whatever its activity. @default 86_400_000 (24 h) */
  lifetime?: number;
  /** Idle timeout in ms: a session unused this long expires. 0 = none. @default 0 */
  idleTimeout?: number;
  /** Cookie attributes; see {@link CookieOptions}. */
  cookie?: CookieOptions;
  /** Encodes session values to bytes for the store. @default the built-in binary codec */
  codec?: Codec;
  /** Store SHA-256(token) instead of the token, so a store leak yields no usable token. @default false */
  hashTokenInStore?: boolean;
  /** Handles errors in `handler` (adapters use their framework's error path unless given); one that throws or rejects is logged and the connection closed. */
  onError?: ErrorHandler;
  /** Where warnings and default error logs go. @default console */
  logger?: Logger;
  /**
   * What to do when two requests of one session overlap and both change it.
   * "last-write-wins" (SCS's behaviour) overwrites; "merge" re-reads the stored session at
   * commit and applies only this request's changed keys on top; "reject" fails the commit
   * with `SessionConflictError` when the stored session changed since it was loaded.
   * @default "last-write-wins"
   */
  concurrency?: "last-write-wins" | "merge" | "reject";
  /** Clock in ms since the epoch, for tests. @default Date.now */
  now?: () => number;
}

/** Options with defaults applied. @internal */
export interface ResolvedOptions {
  lifetime: number;
  idleTimeout: number;
  cookie: ResolvedCookieOptions;
  hashTokenInStore: boolean;
  onError: ErrorHandler | undefined;
  logger: Logger;
  concurrency: "last-write-wins" | "merge" | "reject";
  now: () => number;
}

/**
 * The longest lifetime or idle timeout accepted: half the Date range (about 137,000 years), so
 * now + duration is always a valid Date and a cookie never says `Expires=Invalid Date`.
 */
export const MAX_DURATION = 4.32e15;

function checkDuration(name: string, value: unknown, allowZero: boolean): number {
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    value < 0 ||
    value > MAX_DURATION ||
    (!allowZero && value === 0)
  ) {
    throw new TypeError(
      `option ${name} is invalid: ${String(value)} (expected a ${allowZero ? "non-negative" : "positive"} number of milliseconds, at most ${MAX_DURATION})`,
    );
  }
  return value;
}

/**
 * Validates options and fills in defaults (not the store or codec, which the manager builds).
 * @returns resolved options.
 * @throws TypeError naming the option for a bad value.
 */
export function resolveOptions(options: SessionManagerOptions): ResolvedOptions {
  const lifetime = checkDuration("lifetime", options.lifetime ?? 86_400_000, false);
  const idleTimeout = checkDuration("idleTimeout", options.idleTimeout ?? 0, true);
  const concurrency = options.concurrency ?? "last-write-wins";
  if (concurrency !== "last-write-wins" && concurrency !== "merge" && concurrency !== "reject") {
    throw new TypeError(
      `option concurrency is invalid: ${String(concurrency)} (expected "last-write-wins", "merge" or "reject")`,
    );
  }
  if (options.onError !== undefined && typeof options.onError !== "function") {
    throw new TypeError(
      `option onError is invalid: ${typeof options.onError} (expected a function)`,
    );
  }
  if (options.now !== undefined && typeof options.now !== "function") {
    throw new TypeError(`option now is invalid: ${typeof options.now} (expected a function)`);
  }
  if (options.hashTokenInStore !== undefined && typeof options.hashTokenInStore !== "boolean") {
    throw new TypeError(`option hashTokenInStore is invalid: ${String(options.hashTokenInStore)}`);
  }
  const now = options.now ?? Date.now;
  if (Number.isNaN(new Date(now() + lifetime).getTime())) {
    throw new TypeError(
      `option lifetime is invalid: ${lifetime} (now + lifetime is past the range of a Date)`,
    );
  }
  return {
    lifetime,
    idleTimeout,
    cookie: resolveCookieOptions(options.cookie),
    hashTokenInStore: options.hashTokenInStore ?? false,
    onError: options.onError,
    logger: options.logger ?? console,
    concurrency,
    now,
  };
}

/** Options of `handler` and every adapter. */
export interface TransportOptions {
  /**
   * Carry the token in this request/response header instead of a cookie (for API clients).
   * @example { header: "X-Session" }
   */
  header?: string;
}

/** @internal Resolved transport: where the token is read from and written to. */
export interface Transport {
  /** undefined = cookie */
  header: string | undefined;
  /** lower-cased header name, for `req.headers` lookups */
  headerKey: string;
  /** the request header that the response varies on */
  vary: string;
  /** response header that carries the token */
  responseHeader: string;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Resolves transport options.
 * @throws TypeError when `header` is not a valid header name.
 */
export function resolveTransport(options: TransportOptions = {}): Transport {
  const header = options.header;
  if (header === undefined) {
    return { header: undefined, headerKey: "cookie", vary: "Cookie", responseHeader: "Set-Cookie" };
  }
  if (typeof header !== "string" || !HEADER_NAME.test(header)) {
    throw new TypeError(
      `option header is invalid: ${JSON.stringify(header)} (expected a header name)`,
    );
  }
  return { header, headerKey: header.toLowerCase(), vary: header, responseHeader: header };
}
