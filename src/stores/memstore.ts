/**
 * MemStore: SCS's memstore, an in-process session store. For one process only; its data is
 * lost when the process exits.
 * @module
 */
import { performance } from "node:perf_hooks";
import type { IterableStore } from "../store.ts";

/** Options of {@link MemStore}. */
export interface MemStoreOptions {
  /**
   * Milliseconds between background sweeps that drop expired sessions. 0 turns the background
   * sweep off; expired sessions are still never returned, and are dropped when next looked up.
   * @default 60_000
   */
  cleanupInterval?: number;
  /**
   * Upper bound on the sessions held. Committing a new token past it evicts the least recently
   * used session (found or committed longest ago). Unset: no bound.
   * @default undefined
   */
  maxSessions?: number;
  /**
   * The clock, in milliseconds since the epoch. Tests pass a fake one.
   * @default Date.now
   */
  now?: () => number;
}

/** Longest a sweep runs before it yields to the event loop, in ms. */
const SLICE_MS = 2;
/** Slots a sweep checks between two looks at the clock. */
const SLOTS_PER_CLOCK_CHECK = 256;
/** Largest delay setInterval accepts (it treats anything larger as 1 ms). */
const MAX_INTERVAL = 2_147_483_647;
/** No slot, in the recency list. */
const NONE = -1;
/**
 * The token index is split over this many Maps (a power of two), chosen by the token's last
 * character. V8 rehashes a whole Map when it grows or shrinks past a quarter full; at a million
 * sessions one such rehash held the event loop for over 30 ms, a sixteenth of it takes ~2 ms.
 */
const SHARDS = 16;

function invalid(option: string, value: unknown, expected: string): TypeError {
  return new TypeError(`option ${option} is invalid: ${String(value)} (expected ${expected})`);
}

/**
 * An in-memory {@link IterableStore}: SCS's memstore. Answers synchronously (its methods return
 * values, not Promises, so the manager adds no microtask hop).
 *
 * Data is held as given, not copied: callers must not change a `Uint8Array` after committing it
 * or after `find` returned it (the session manager never does).
 *
 * Expired sessions are never returned: `find` checks the expiry and drops an expired entry it
 * meets. A background sweep every `cleanupInterval` ms drops the rest; it works in slices of at
 * most a few milliseconds and yields to the event loop between them, so even at a million
 * sessions it never holds the loop for long. Its timer is `unref()`'d and never keeps the
 * process alive; `stopCleanup()`, `close()` or `using` end it.
 *
 * Sessions live in slots: Maps from token to slot number, and arrays indexed by slot for the
 * token, the data and the expiry (a packed array of doubles). That keeps the cost per session
 * to a few array cells rather than an object per entry, and lets the sweep scan expiries
 * without touching the Map.
 *
 * @example
 * const store = new MemStore({ cleanupInterval: 30_000, maxSessions: 100_000 });
 * store.commit(token, data, new Date(Date.now() + 3_600_000));
 * store.find(token); // data, until the expiry passes
 * store.stopCleanup();
 */
export class MemStore implements IterableStore {
  readonly #now: () => number;
  readonly #max: number | undefined;
  /** Token → slot, in {@link SHARDS} Maps. */
  #index: Map<string, number>[] = Array.from({ length: SHARDS }, () => new Map());
  #count = 0;
  #tokens: (string | undefined)[] = [];
  #data: (Uint8Array | undefined)[] = [];
  /** Expiry per slot in ms; +Infinity for a free slot, so the sweep skips it. */
  #expiry: number[] = [];
  #free: number[] = [];
  /** Recency list, kept only with maxSessions: slot → previous / next slot, oldest at head. */
  #prev: number[] = [];
  #next: number[] = [];
  #head = NONE;
  #tail = NONE;
  #timer: ReturnType<typeof setInterval> | undefined;
  #sweeping: Promise<number> | undefined;

  /**
   * Makes a store and, unless `cleanupInterval` is 0, starts its background sweep.
   * @param options - See {@link MemStoreOptions}.
   * @throws TypeError naming the option and value when an option is invalid.
   */
  constructor(options: MemStoreOptions = {}) {
    const { cleanupInterval = 60_000, maxSessions, now = Date.now } = options;
    if (
      typeof cleanupInterval !== "number" ||
      !(cleanupInterval >= 0 && cleanupInterval <= MAX_INTERVAL)
    ) {
      throw invalid("cleanupInterval", cleanupInterval, `0 to ${MAX_INTERVAL} milliseconds`);
    }
    if (maxSessions !== undefined && !(Number.isSafeInteger(maxSessions) && maxSessions > 0)) {
      throw invalid("maxSessions", maxSessions, "a positive integer");
    }
    if (typeof now !== "function") throw invalid("now", now, "a function returning milliseconds");
    this.#now = now;
    this.#max = maxSessions;
    if (cleanupInterval > 0) {
      // A WeakRef so the timer does not keep an abandoned store alive either.
      const ref = new WeakRef(this);
      const timer = setInterval(() => {
        const store = ref.deref();
        if (store === undefined) clearInterval(timer);
        else void store.sweep();
      }, cleanupInterval);
      timer.unref();
      this.#timer = timer;
    }
  }

  /**
   * The data committed for `token`, or `undefined` when there is none or it has expired.
   * With `maxSessions`, a hit marks the session as the most recently used.
   * @returns the stored bytes (the same object that was committed; do not change it).
   */
  find(token: string): Uint8Array | undefined {
    const slot = this.#shard(token).get(token);
    if (slot === undefined) return undefined;
    if (!(this.#expiry[slot]! > this.#now())) {
      this.#release(slot);
      return undefined;
    }
    if (this.#max !== undefined) this.#touch(slot);
    return this.#data[slot];
  }

  /**
   * Stores `data` for `token` until `expiry`, replacing data and expiry already held for it.
   * A new token past `maxSessions` evicts the least recently used session first.
   */
  commit(token: string, data: Uint8Array, expiry: Date): void {
    let slot = this.#shard(token).get(token);
    if (slot === undefined) {
      if (this.#max !== undefined && this.#count >= this.#max) this.#release(this.#head);
      slot = this.#claim(token);
    } else if (this.#max !== undefined) {
      this.#touch(slot);
    }
    this.#data[slot] = data;
    this.#expiry[slot] = expiry.getTime();
  }

  /** The v1 name of {@link MemStore.commit}, kept for SCS v1 users. */
  save(token: string, data: Uint8Array, expiry: Date): void {
    this.commit(token, data, expiry);
  }

  /** Removes `token` and its data; a missing token is a no-op. */
  delete(token: string): void {
    const slot = this.#shard(token).get(token);
    if (slot !== undefined) this.#release(slot);
  }

  /**
   * Every unexpired session, keyed by token, in a new Map (empty when there are none).
   * @returns token → data, the data objects as stored.
   */
  all(): Map<string, Uint8Array> {
    const now = this.#now();
    const out = new Map<string, Uint8Array>();
    for (const shard of this.#index) {
      for (const [token, slot] of shard) {
        if (this.#expiry[slot]! > now) out.set(token, this.#data[slot]!);
      }
    }
    return out;
  }

  /** Sessions held, counting expired ones not yet swept or looked up. */
  get size(): number {
    return this.#count;
  }

  /**
   * Drops every expired session now, in slices of a few ms that yield to the event loop between
   * them. The background sweep calls it; call it yourself when `cleanupInterval` is 0. When a
   * sweep is already running, returns that sweep's promise.
   * @returns a Promise of the number of sessions dropped.
   */
  sweep(): Promise<number> {
    if (this.#sweeping !== undefined) return this.#sweeping;
    let resolve!: (dropped: number) => void;
    const sweeping = new Promise<number>((r) => {
      resolve = r;
    });
    this.#sweeping = sweeping;
    this.#sweepFrom(0, 0, resolve); // may finish synchronously, clearing #sweeping
    return sweeping;
  }

  /** Ends the background sweep. Idempotent; the store keeps working (expired data is still never returned). */
  stopCleanup(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Ends the background sweep, as {@link MemStore.stopCleanup}. The data stays. */
  close(): void {
    this.stopCleanup();
  }

  /** Ends the background sweep when a `using` declaration goes out of scope. */
  [Symbol.dispose](): void {
    this.stopCleanup();
  }

  #sweepFrom(cursor: number, dropped: number, resolve: (dropped: number) => void): void {
    const now = this.#now();
    const until = performance.now() + SLICE_MS;
    const expiry = this.#expiry;
    scan: while (cursor < expiry.length) {
      const end = Math.min(cursor + SLOTS_PER_CLOCK_CHECK, expiry.length);
      for (; cursor < end; cursor++) {
        // Free slots hold +Infinity; NaN (an invalid Date) counts as expired.
        if (!(expiry[cursor]! > now)) {
          this.#release(cursor);
          dropped++;
          if (expiry !== this.#expiry) break scan; // the store emptied and reset its arrays
        }
      }
      if (performance.now() >= until) {
        setImmediate(() => this.#sweepFrom(cursor, dropped, resolve));
        return;
      }
    }
    this.#sweeping = undefined;
    resolve(dropped);
  }

  #claim(token: string): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#tokens.length;
      this.#tokens.push(token);
      this.#data.push(undefined);
      this.#expiry.push(Number.POSITIVE_INFINITY);
      if (this.#max !== undefined) {
        this.#prev.push(NONE);
        this.#next.push(NONE);
      }
    } else {
      this.#tokens[slot] = token;
    }
    this.#shard(token).set(token, slot);
    this.#count++;
    if (this.#max !== undefined) this.#append(slot);
    return slot;
  }

  #shard(token: string): Map<string, number> {
    // NaN (an empty token) & 15 is 0.
    return this.#index[token.charCodeAt(token.length - 1) & (SHARDS - 1)]!;
  }

  #release(slot: number): void {
    const token = this.#tokens[slot]!;
    this.#shard(token).delete(token);
    if (--this.#count === 0) {
      // Nothing left: drop the arrays so memory returns to zero.
      this.#tokens = [];
      this.#data = [];
      this.#expiry = [];
      this.#free = [];
      this.#prev = [];
      this.#next = [];
      this.#head = this.#tail = NONE;
      return;
    }
    this.#tokens[slot] = undefined;
    this.#data[slot] = undefined;
    this.#expiry[slot] = Number.POSITIVE_INFINITY;
    if (this.#max !== undefined) this.#unlink(slot);
    this.#free.push(slot);
  }

  /** Moves a slot to the most recently used end. */
  #touch(slot: number): void {
    if (slot === this.#tail) return;
    this.#unlink(slot);
    this.#append(slot);
  }

  #append(slot: number): void {
    this.#prev[slot] = this.#tail;
    this.#next[slot] = NONE;
    if (this.#tail === NONE) this.#head = slot;
    else this.#next[this.#tail] = slot;
    this.#tail = slot;
  }

  #unlink(slot: number): void {
    const prev = this.#prev[slot]!;
    const next = this.#next[slot]!;
    if (prev === NONE) this.#head = next;
    else this.#next[prev] = next;
    if (next === NONE) this.#tail = prev;
    else this.#prev[next] = prev;
  }
}
