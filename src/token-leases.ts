/**
 * Token leases: how a retired token stays dead for requests that loaded it before it was
 * retired. Every session loaded under a store key shares one lease object with every other
 * in-flight session of that key; `renewToken` and `destroy` mark it retired, and a retired
 * session is never written back (a slow request must not resurrect a token that a sign-in
 * or sign-out retired, nor hand it back to the client).
 *
 * A lease lives exactly as long as some session (or load in progress) holds it: the registry
 * keeps a WeakRef and forgets the key once the lease is collected, so it needs no request
 * lifecycle hook and holds no memory for sessions nobody uses any more. Within one process;
 * a shared store's other app servers are not told.
 * @module
 */

/** Shared by every in-flight session loaded under one store key. */
export interface TokenLease {
  /** Set while the key is retired (renewed or destroyed) and its store delete did not fail. */
  retired: number;
}

/** The leases of one manager's store keys. */
export class TokenLeases {
  readonly #leases = new Map<string, WeakRef<TokenLease>>();
  readonly #forget = new FinalizationRegistry<string>((key) => {
    const ref = this.#leases.get(key);
    if (ref !== undefined && ref.deref() === undefined) this.#leases.delete(key);
  });

  /**
   * The lease of `storeKey`, shared with every other live session of it (created if none).
   * @returns the lease; `retired > 0` means the key must be treated as gone.
   */
  acquire(storeKey: string): TokenLease {
    const lease = this.#leases.get(storeKey)?.deref();
    if (lease !== undefined) return lease;
    const created: TokenLease = { retired: 0 };
    this.#leases.set(storeKey, new WeakRef(created));
    this.#forget.register(created, storeKey);
    return created;
  }

  /**
   * Marks `storeKey` retired for every session that holds its lease (and for loads of it that
   * start while one does).
   * @returns the undo, for when the store delete that retires it fails.
   */
  retire(storeKey: string): () => void {
    const lease = this.acquire(storeKey);
    lease.retired++;
    let undone = false;
    return () => {
      if (undone) return;
      undone = true;
      lease.retired--;
    };
  }

  /** Keys with a live lease (for tests). */
  get size(): number {
    return this.#leases.size;
  }
}
