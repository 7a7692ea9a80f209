/**
 * What the SQL stores (SqliteStore, PostgresStore) share: option checks, the table name rule,
 * the token rule, and the background cleanup timer.
 * @module
 */

/** Largest delay setInterval accepts (it treats anything larger as 1 ms). */
const MAX_INTERVAL = 2_147_483_647;
/**
 * A plain SQL identifier, short enough that `<name>_expiry_idx` stays within PostgreSQL's 63
 * bytes. Always quoted in statements, so it is matched case-sensitively.
 */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,51}$/;

/** @returns the TypeError bad options throw, naming the option and the value. */
export function invalid(option: string, value: unknown, expected: string): TypeError {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  return new TypeError(`option ${option} is invalid: ${shown} (expected ${expected})`);
}

/** @returns `value` (or `fallback` when undefined) checked as a timer delay in ms, 0 allowed. */
export function interval(option: string, value: unknown, fallback: number): number {
  const ms = value ?? fallback;
  if (typeof ms !== "number" || !(ms >= 0 && ms <= MAX_INTERVAL)) {
    throw invalid(option, ms, `0 to ${MAX_INTERVAL} milliseconds`);
  }
  return ms;
}

/** @returns `value` (or `fallback`) checked as a function, e.g. the `now` clock. */
export function fn<T extends (...args: never[]) => unknown>(
  option: string,
  value: T | undefined,
  fallback: T,
): T {
  const f = value ?? fallback;
  if (typeof f !== "function") throw invalid(option, f, "a function");
  return f;
}

/**
 * Checks a table option: a plain identifier, or with `schemas` also `schema.table`.
 * @returns the parts, unquoted (the last one is the table).
 */
export function tableParts(value: unknown, schemas: boolean): string[] {
  const name = value ?? "sessions";
  const parts = typeof name === "string" ? name.split(".") : [];
  const ok =
    parts.length > 0 &&
    parts.length <= (schemas ? 2 : 1) &&
    parts.every((p) => IDENTIFIER.test(p) && !/^sqlite_/i.test(p));
  if (!ok) {
    const what = schemas ? "an SQL identifier or schema.table" : "an SQL identifier";
    throw invalid(
      "table",
      name,
      `${what}: letters, digits and _, at most 52 characters, not starting with sqlite_`,
    );
  }
  return parts;
}

/** @returns the parts as a quoted SQL name, e.g. `"app"."sessions"`. */
export function quoted(parts: readonly string[]): string {
  return parts.map((p) => `"${p}"`).join(".");
}

/** ms since the epoch → Julian day, the unit of SCS's SQLite `expiry REAL` column. */
export function julianDay(ms: number): number {
  return ms / 86_400_000 + 2_440_587.5;
}

/**
 * Starts `run` every `ms` milliseconds on an unref'd timer that holds the store only weakly (an
 * abandoned store is collected and its timer ends). `run` is told to skip a turn while the
 * previous one is still going.
 * @returns the timer, or undefined for `ms` 0.
 */
export function startCleanup<S extends object>(
  store: S,
  ms: number,
  run: (store: S) => void,
): NodeJS.Timeout | undefined {
  if (ms === 0) return undefined;
  const ref = new WeakRef(store);
  const timer: NodeJS.Timeout = setInterval(() => {
    const s = ref.deref();
    if (s === undefined) clearInterval(timer);
    else run(s);
  }, ms);
  timer.unref();
  return timer;
}

/** @returns the default `onError` of a store: one line on stderr, no data or token. */
export function logCleanupFailure(store: string): (err: unknown) => void {
  return (err) => {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    console.error(`scs-ts ${store}: cleanup failed: ${message}`);
  };
}
