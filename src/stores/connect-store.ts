/**
 * The bridge from an express-session (Connect) store to the scs-ts {@link Store} contract.
 * @module
 */
import type { IterableStore, Store } from "../store.ts";
import { callStore, type ExpressStoreCallback } from "./connect-store-call.ts";
import { fromAll, fromRecord, toRecord } from "./connect-store-record.ts";

/**
 * What the bridge needs of an express-session store, structurally (express-session itself is
 * never imported): `get`, `set` and `destroy`, and optionally `all`. Each method may take a
 * callback (`get(sid, cb(err, session))`), return a Promise, or both. Every store written for
 * express-session fits: MemoryStore, connect-redis, connect-pg-simple, connect-mongo, ...
 */
export interface ExpressSessionStoreLike {
  /** Calls back with (or resolves to) the session object for `sid`, or null/undefined when there is none. */
  get(sid: string, callback: ExpressStoreCallback): unknown;
  /** Stores the session object under `sid`, its TTL taken from `session.cookie`. */
  set(sid: string, session: unknown, callback: ExpressStoreCallback): unknown;
  /** Removes `sid`. */
  destroy(sid: string, callback: ExpressStoreCallback): unknown;
  /** Every session: an object keyed by id, or an array of sessions. Optional. */
  all?(callback: ExpressStoreCallback): unknown;
}

/** Options of {@link fromExpressStore}. */
export interface FromExpressStoreOptions {
  /**
   * Milliseconds a store call may take before it fails with StoreUnavailableError: a store
   * that never calls back (or never settles its Promise) does not hang the request.
   * @default 5000
   */
  deadline?: number;
  /**
   * The clock, in ms since the epoch, that expiries are compared with. Tests pass a fake one.
   * @default Date.now
   */
  now?: () => number;
}

/** The `Store` that {@link fromExpressStore} returns for a store with an `all` method. */
export type IterableExpressStoreBridge = ExpressStoreBridge & IterableStore;

/**
 * What {@link fromExpressStore} returns for a store of type `S`: an {@link IterableStore} when
 * `S` declares a (non-optional) `all` method, else a plain {@link Store}. (At run time `all` is
 * there exactly when the store object has an `all` function; `isIterableStore` tells.)
 */
export type BridgedStore<S> = S extends { all(callback: never): unknown }
  ? IterableExpressStoreBridge
  : ExpressStoreBridge;

const DEFAULT_DEADLINE = 5_000;
/** Largest delay setTimeout accepts (it treats anything larger as 1 ms). */
const MAX_DEADLINE = 2_147_483_647;

function invalid(option: string, value: unknown, expected: string): TypeError {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  return new TypeError(`option ${option} is invalid: ${shown} (expected ${expected})`);
}

/**
 * An express-session store seen as an scs-ts {@link Store}. Made by {@link fromExpressStore}.
 *
 * - `commit` calls `set(token, session)` with the expiry in `session.cookie.expires` (a Date)
 *   and `cookie.maxAge`/`originalMaxAge` (ms left), so the store's own TTL matches, and the
 *   bytes as base64 in `session.scs`. An expiry already past calls `destroy` instead, as
 *   express-session stores do for a non-positive TTL.
 * - `find` calls `get(token)`; it gives `undefined` for no session, for a record that is not
 *   one of ours (another application sharing the store), for a malformed one, and for one
 *   past its expiry even when the store still returns it (TTLs rounded to seconds). An error
 *   with `code: "ENOENT"` is "no session", as in express-session (session-file-store).
 * - `delete` calls `destroy(token)`.
 * - Every other failure — an error passed to the callback, a rejected Promise, a synchronous
 *   throw, no answer within the deadline — rejects with `StoreUnavailableError` (cause
 *   attached, no token in the message). A callback called twice counts once.
 */
export class ExpressStoreBridge implements Store {
  /** The store this bridge calls. */
  readonly store: ExpressSessionStoreLike;
  readonly #deadline: number;
  readonly #now: () => number;

  /**
   * @param store - the express-session store; never closed by the bridge.
   * @param options - the deadline and clock.
   * @throws TypeError when `store` lacks get/set/destroy or an option is invalid.
   */
  constructor(store: ExpressSessionStoreLike, options: FromExpressStoreOptions = {}) {
    const s = store as Partial<ExpressSessionStoreLike> | null | undefined;
    if (
      typeof s !== "object" ||
      s === null ||
      typeof s.get !== "function" ||
      typeof s.set !== "function" ||
      typeof s.destroy !== "function"
    ) {
      throw new TypeError(
        `store is invalid: ${String(store)} (expected an express-session store with get, set and destroy methods)`,
      );
    }
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`options is invalid: ${String(options)} (expected an object)`);
    }
    const deadline = options.deadline ?? DEFAULT_DEADLINE;
    if (typeof deadline !== "number" || !(deadline > 0 && deadline <= MAX_DEADLINE)) {
      throw invalid("deadline", deadline, `1 to ${MAX_DEADLINE} milliseconds`);
    }
    const now = options.now ?? Date.now;
    if (typeof now !== "function") throw invalid("now", now, "a function");
    this.store = store;
    this.#deadline = deadline;
    this.#now = now;
  }

  /** @returns the session bytes for `token`, or undefined when missing, not ours or expired. */
  async find(token: string): Promise<Uint8Array | undefined> {
    let value: unknown;
    try {
      value = await callStore("get", this.#deadline, (cb) => this.store.get(token, cb));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return fromRecord(value, token, this.#now())?.data;
  }

  /**
   * Stores `data` under `token` until `expiry`. An expiry already past (or an invalid Date)
   * deletes the token instead, as MemStore treats it.
   */
  async commit(token: string, data: Uint8Array, expiry: Date): Promise<void> {
    const at = expiry instanceof Date ? expiry.getTime() : Number.NaN;
    const now = this.#now();
    if (!(at > now)) return this.delete(token);
    const record = toRecord(token, data, at, now);
    await callStore("set", this.#deadline, (cb) => this.store.set(token, record, cb));
  }

  /** Removes `token`; a missing token is no error. */
  async delete(token: string): Promise<void> {
    await callStore("destroy", this.#deadline, (cb) => this.store.destroy(token, cb));
  }

  /**
   * Does nothing: the express-session store is yours and stays open (end its client or pool
   * yourself). Here so code that closes every store can close this one too.
   */
  close(): void {}

  /** `await using`: the same as {@link close}, nothing. */
  async [Symbol.asyncDispose](): Promise<void> {}
}

/** The bridge for a store with `all`: an {@link IterableStore}. */
class IterableBridge extends ExpressStoreBridge implements IterableStore {
  readonly #deadline: number;
  readonly #now: () => number;

  constructor(store: ExpressSessionStoreLike, options: FromExpressStoreOptions) {
    super(store, options);
    this.#deadline = options.deadline ?? DEFAULT_DEADLINE;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Calls the store's `all` (an object keyed by id, or an array of sessions).
   * @returns every live session of ours, keyed by the key it is stored under.
   */
  async all(): Promise<Map<string, Uint8Array>> {
    const all = this.store.all;
    if (typeof all !== "function") return new Map();
    const value = await callStore("all", this.#deadline, (cb) => all.call(this.store, cb));
    return fromAll(value, this.#now());
  }
}

/** express-session reads a `get` error with `code: "ENOENT"` as "no session" (session-file-store gives one). */
function isNotFound(err: unknown): boolean {
  const cause = (err as { cause?: unknown } | null)?.cause;
  return (
    typeof cause === "object" && cause !== null && (cause as { code?: unknown }).code === "ENOENT"
  );
}

/**
 * Wraps any express-session store (connect-redis, connect-pg-simple, connect-mongo,
 * MemoryStore, ...) as an scs-ts {@link Store}, so existing session infrastructure can serve
 * a {@link SessionManager}. The result has `all()` (is an {@link IterableStore}) exactly when
 * the store has an `all` method; its type says so when the store's type declares `all`.
 *
 * Nothing about the store changes: its TTL handling, pruning and client stay as configured,
 * and the bridge never closes it. Sessions are written as express-session-shaped objects
 * (see `BridgedSessionRecord`); records of other applications in the same store are
 * "not found".
 *
 * @param store - the express-session store instance.
 * @param options - `deadline` per call (default 5000 ms), `now`.
 * @returns the store as an scs-ts Store.
 * @throws TypeError when `store` is not an express-session store or an option is invalid.
 *
 * @example
 * import pg from "pg";
 * import session from "express-session";
 * import connectPgSimple from "connect-pg-simple";
 * import { SessionManager } from "scs-ts";
 * import { fromExpressStore } from "scs-ts/connect-store";
 *
 * const PgStore = connectPgSimple(session);
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const sessions = new SessionManager({ store: fromExpressStore(new PgStore({ pool })) });
 */
export function fromExpressStore<S extends ExpressSessionStoreLike>(
  store: S,
  options: FromExpressStoreOptions = {},
): BridgedStore<S> {
  const bridge =
    typeof (store as Partial<ExpressSessionStoreLike> | null)?.all === "function"
      ? new IterableBridge(store, options)
      : new ExpressStoreBridge(store, options);
  return bridge as BridgedStore<S>;
}
