/**
 * Reading one rqlite HTTP answer: its three error channels, and which failures are worth
 * another attempt. Internal to the rqlite client.
 * @module
 */
import { RqliteAuthError, RqliteError } from "./rqlite-errors.ts";

/** A failure that another node or a later round may not have: try again. */
export class RetryableError extends Error {
  override name = "RetryableError";
}

/**
 * An SQL error that means "this node has not applied the whole log yet" rather than a bad
 * statement: `no such table` / `no such index` for a table the store already created. Right
 * after a full restart rqlite can answer reads while still replaying the log that holds the
 * `CREATE TABLE`. Retried like any other transient failure.
 */
export class NotCaughtUpError extends RetryableError {
  override name = "NotCaughtUpError";
}

const MISSING_SCHEMA = /^no such (table|index)\b/;

/** One entry of rqlite's `results` array, as sent. */
export interface RawResult {
  error?: unknown;
  rows_affected?: unknown;
  columns?: unknown;
  values?: unknown;
}

/** A short description of a network error: its code and message, never request data. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * Checks rqlite's three error channels, in order: status, top-level `error`, `results[i].error`.
 * With `schemaKnown`, a `no such table`/`no such index` SQL error is {@link NotCaughtUpError}
 * (the node lags behind the log), not a final {@link RqliteError}.
 * @returns the results; throws {@link RetryableError}, {@link RqliteError} or {@link RqliteAuthError}.
 */
export function parseAnswer(
  status: number,
  text: string,
  url: string,
  schemaKnown = false,
): RawResult[] {
  const said = text.trim().slice(0, 200);
  if (status === 401 || status === 403)
    throw new RqliteAuthError(`rqlite refused the credentials (${status}): ${said}`, status);
  if (status >= 400 && status < 500)
    throw new RqliteError(`rqlite refused the request (${status}): ${said}`, status);
  if (status !== 200) throw new RetryableError(`${url}: HTTP ${status}: ${said}`);
  let json: { error?: unknown; results?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (err) {
    throw new RetryableError(`${url}: answer is not JSON`, { cause: err });
  }
  if (json.error !== undefined && json.error !== "") {
    throw new RetryableError(`${url}: ${String(json.error)}`);
  }
  const results = Array.isArray(json.results) ? (json.results as RawResult[]) : [];
  for (const r of results) {
    if (r && typeof r.error === "string" && r.error !== "") {
      if (schemaKnown && MISSING_SCHEMA.test(r.error))
        throw new NotCaughtUpError(
          `${url}: ${r.error} (the node has not applied the whole log yet)`,
        );
      throw new RqliteError(`rqlite SQL error: ${r.error}`, 200);
    }
  }
  return results;
}
