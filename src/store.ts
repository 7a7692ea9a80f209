/**
 * The store contract, as in SCS's `Store` and `IterableStore`.
 * @module
 */

/** A value, or a Promise of it. Stores may answer synchronously; the manager then adds no microtask hop. */
export type Awaitable<T> = T | Promise<T>;

/**
 * Where session data lives. Three methods, each keyed on the token.
 *
 * - `find` should return the data for a token, or `undefined` if the token is not found or is
 *   expired. A tampered or malformed token should be "not found", never an error: errors are for
 *   system failures only (reject with {@link StoreUnavailableError} when the store cannot be
 *   reached).
 * - `commit` should add the token and data to the store with the given expiry, replacing any
 *   data and expiry already held for it.
 * - `delete` should remove the token and its data. If the token does not exist, it should do
 *   nothing and not fail.
 *
 * @example
 * const store: Store = new MemStore();
 * await store.commit("token", new Uint8Array([1]), new Date(Date.now() + 60_000));
 */
export interface Store {
  /** Data for a token; `undefined` when missing or expired. */
  find(token: string): Awaitable<Uint8Array | undefined>;
  /** Insert or overwrite data and expiry for the token. */
  commit(token: string, data: Uint8Array, expiry: Date): Awaitable<void>;
  /** Remove the token; a missing token is a no-op. */
  delete(token: string): Awaitable<void>;
}

/**
 * A store that can list its sessions, as SCS's `IterableStore`.
 * `all` should return every active (unexpired) session keyed by the token it is stored under;
 * an empty Map when there are none.
 */
export interface IterableStore extends Store {
  /** Every active session, keyed by stored token. */
  all(): Awaitable<Map<string, Uint8Array>>;
}

/**
 * True when `store` has an `all` method, i.e. implements {@link IterableStore}.
 * @returns whether the store can be iterated.
 */
export function isIterableStore(store: Store): store is IterableStore {
  return typeof (store as Partial<IterableStore>).all === "function";
}

/** True when `value` is a Promise-like (has a `then` method). Used to skip needless awaits. */
export function isPromiseLike<T>(value: Awaitable<T>): value is Promise<T> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
