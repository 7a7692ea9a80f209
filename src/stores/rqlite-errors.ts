/**
 * Errors of the rqlite client that are not "unavailable": rqlite answered, and said no.
 * They are never retried. Reachability failures are {@link StoreUnavailableError} (src/errors.ts).
 * @module
 */
import { SessionError } from "../errors.ts";

/**
 * rqlite refused a request: an HTTP 4xx status (bad request) or an SQL error in a result.
 * Retrying cannot help, so the client never does. No token is ever in the message: rqlite's
 * own error text names SQL, never bound parameters.
 *
 * @example
 * try { await conn.query([["SELECT nope FROM t"]]); }
 * catch (err) { if (err instanceof RqliteError && err.status === 200) console.log("SQL error"); }
 */
export class RqliteError extends SessionError {
  override name = "RqliteError";
  /** HTTP status of the answer: 4xx for a refused request, 200 for an SQL error in a result. */
  readonly status: number;

  /**
   * @param message - what rqlite said (no token).
   * @param status - the HTTP status.
   * @param options - `cause`, when there is one.
   */
  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

/**
 * rqlite refused the credentials (HTTP 401) or the user lacks a permission (HTTP 403).
 * A configuration problem, never retried.
 */
export class RqliteAuthError extends RqliteError {
  override name = "RqliteAuthError";
}

/**
 * `text` with the credentials of any URL in it replaced by `***`, for echoing a bad option:
 * everything between the scheme's `//` (or the start) and the last `@`, which is where the URL
 * parser itself ends the userinfo, so a password holding `@`, `/` or spaces is covered too.
 * Without an `@`, a non-numeric port (`http://user:secret`, the host left out) is redacted.
 * Over-redacting a malformed URL is harmless; echoing a password is not.
 */
export function redactCredentials(text: string): string {
  const at = text.lastIndexOf("@");
  if (at >= 0) {
    const slashes = text.indexOf("//");
    const start = slashes >= 0 && slashes < at ? slashes + 2 : 0;
    return `${text.slice(0, start)}***${text.slice(at)}`;
  }
  return text.replace(
    /(\/\/(?:\[[^\]]*\]|[^/?#:[]*):)([^/?#]*)/g,
    (all, head: string, port: string) => (/^\d*$/.test(port) ? all : `${head}***`),
  );
}
