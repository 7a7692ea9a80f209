/**
 * Error classes of scs-ts. Callers test with `instanceof`; no message ever contains a token.
 * @module
 */

/** Base class of every error scs-ts throws on purpose. */
export class SessionError extends Error {
  override name = "SessionError";
}

/**
 * The store could not be reached or did not answer in time (network, timeout, no leader).
 * The default `onError` answers 503 with it. `cause` holds the underlying error. It carries
 * `status`/`statusCode` 503 and `expose` false, the fields framework error handlers read
 * (Express's final handler, Koa, Fastify), so their answer is a 503 that shows no message.
 */
export class StoreUnavailableError extends SessionError {
  override name = "StoreUnavailableError";
  /** The HTTP status frameworks answer this error with. @default 503 */
  readonly status = 503;
  /** The same, under the name Fastify and http-errors also read. @default 503 */
  readonly statusCode = 503;
  /** Frameworks do not show the message to the client. @default false */
  readonly expose = false;
}

/** The codec refused a value (names the key) or could not decode stored bytes. */
export class CodecError extends SessionError {
  override name = "CodecError";
}

/** `iterate` was called on a manager whose store has no `all` method. */
export class NotIterableError extends SessionError {
  override name = "NotIterableError";
}

/** The Set-Cookie value would exceed what browsers keep (4096 bytes). */
export class CookieTooLargeError extends SessionError {
  override name = "CookieTooLargeError";
}

/**
 * With `conflict: "reject"`, the stored session changed since this request loaded it.
 */
export class SessionConflictError extends SessionError {
  override name = "SessionConflictError";
}
