/**
 * Retired tokens: how a token that a renewal or sign-out retired stays dead for requests that
 * loaded it before (or while) it was retired. A retired store key is remembered here for a
 * while; a session under that key is never written back (a slow request must not resurrect a
 * token that a sign-in or sign-out retired, nor hand it back to the client), and a load of it
 * is a fresh session even if the store's delete has not landed yet.
 *
 * Nothing is allocated per request: loads and commits look the key up in a Map that holds only
 * recent retirements (the last `RETIRED_WINDOW_MS`, at most `MAX_RETIRED` of them). Within one
 * process; a shared store's other app servers are not told.
 * @module
 */

/** How long a retirement is remembered: longer than any request that could still commit. */
export const RETIRED_WINDOW_MS = 15 * 60_000;

/** The most retirements remembered at once (the oldest are forgotten first). */
export const MAX_RETIRED = 100_000;

/** The recently retired store keys of one manager. */
export class RetiredTokens {
  /** store key → when it was retired (ms, monotonic), in retirement order */
  readonly #retired = new Map<string, number>();

  /**
   * Whether `storeKey` was retired recently.
   * @returns true when a session under it must be treated as gone.
   */
  has(storeKey: string): boolean {
    return this.#retired.size > 0 && this.#retired.has(storeKey);
  }

  /**
   * Marks `storeKey` retired.
   * @returns the undo, for when the store delete that retires it fails.
   */
  retire(storeKey: string): () => void {
    const now = performance.now();
    this.#forgetOlderThan(now - RETIRED_WINDOW_MS);
    this.#retired.delete(storeKey); // re-inserted last: the Map stays in retirement order
    this.#retired.set(storeKey, now);
    let undone = false;
    return () => {
      if (undone) return;
      undone = true;
      if (this.#retired.get(storeKey) === now) this.#retired.delete(storeKey);
    };
  }

  #forgetOlderThan(limit: number): void {
    for (const [key, at] of this.#retired) {
      if (at >= limit && this.#retired.size < MAX_RETIRED) break;
      this.#retired.delete(key);
    }
  }

  /** Keys remembered (for tests). */
  get size(): number {
    return this.#retired.size;
  }
}
