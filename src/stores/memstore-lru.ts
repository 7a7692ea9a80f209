/**
 * The recency list of MemStore's slots: a doubly linked list kept in two arrays of slot numbers,
 * oldest at the head, so marking a slot used and finding the least recently used one are O(1)
 * without an object per session.
 * @module
 */

/** No slot. */
export const NONE = -1;

/**
 * Slot numbers in recency order. Slots are small non-negative integers handed out by the store;
 * the list only links them.
 * @example
 * const lru = new RecencyList();
 * lru.append(0); lru.append(1); lru.touch(0);
 * lru.head; // 1, the least recently used
 */
export class RecencyList {
  #prev: number[] = [];
  #next: number[] = [];
  #head = NONE;
  #tail = NONE;

  /** The least recently used slot, or {@link NONE} when the list is empty. */
  get head(): number {
    return this.#head;
  }

  /** The slot used next after `slot` (in the list), or {@link NONE} after the most recent. */
  next(slot: number): number {
    return this.#next[slot]!;
  }

  /** Adds `slot` (not in the list) as the most recently used. */
  append(slot: number): void {
    const prev = this.#prev;
    const next = this.#next;
    while (prev.length <= slot) {
      prev.push(NONE);
      next.push(NONE);
    }
    prev[slot] = this.#tail;
    next[slot] = NONE;
    if (this.#tail === NONE) this.#head = slot;
    else next[this.#tail] = slot;
    this.#tail = slot;
  }

  /** Takes `slot` (in the list) out of it. */
  unlink(slot: number): void {
    const prev = this.#prev[slot]!;
    const next = this.#next[slot]!;
    if (prev === NONE) this.#head = next;
    else this.#next[prev] = next;
    if (next === NONE) this.#tail = prev;
    else this.#prev[next] = prev;
  }

  /** Moves `slot` (in the list) to the most recently used end. */
  touch(slot: number): void {
    if (slot === this.#tail) return;
    this.unlink(slot);
    this.append(slot);
  }

  /** Empties the list and drops its arrays. */
  clear(): void {
    this.#prev = [];
    this.#next = [];
    this.#head = this.#tail = NONE;
  }
}
