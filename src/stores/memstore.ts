/**
 * MemStore: SCS's memstore, an in-process session store. For one process only; its data is
 * lost when the process exits.
 * @module
 */
import { performance } from "node:perf_hooks";
import type { IterableStore } from "../store.ts";
import { NONE, RecencyList } from "./memstore-lru.ts";
import {
  MEMSTORE_ENTRY_OVERHEAD,
  type MemStoreOptions,
  ownsItsBuffer,
  resolveMemStoreOptions,
} from "./memstore-options.ts";

export {
  MEMSTORE_DEFAULT_MAX_BYTES,
  MEMSTORE_ENTRY_OVERHEAD,
  type MemStoreOptions,
} from "./memstore-options.ts";

/** The largest typed array V8 allocates on its heap (V8_TYPED_ARRAY_MAX_SIZE_IN_HEAP). */
const ON_HEAP_MAX = 64;
/** Longest a sweep runs before it yields to the event loop, in ms. */
const SLICE_MS = 2;
/** Slots a sweep checks between two looks at the clock. */
const SLOTS_PER_CLOCK_CHECK = 256;
/**
 * The slot arrays are compacted when at most a quarter of their slots is in use (and they have
 * at least this many), so a store that shrank after a flood gives the memory of its freed slots
 * back. Compaction renumbers the live slots in recency order: O(live sessions), amortized O(1)
 * per session released since the arrays grew.
 */
const COMPACT_MIN_SLOTS = 4096;
/**
 * The token index is split over this many Maps (a power of two), chosen by the token's last
 * character. V8 rehashes a whole Map when it grows or shrinks past a quarter full; at a million
 * sessions one such rehash held the event loop for over 30 ms, a sixteenth of it takes ~2 ms.
 */
const SHARDS = 16;

/**
 * An in-memory {@link IterableStore}: SCS's memstore. Answers synchronously (its methods return
 * values, not Promises, so the manager adds no microtask hop).
 *
 * Memory is bounded by default: `maxBytes` (64 MiB) and, when set, `maxSessions`; past either
 * the least recently used sessions are evicted, in O(1) per session evicted. `find` counts as
 * a use, as `get` does in lru-cache.
 *
 * A session never keeps a larger buffer alive: `commit` copies data that is a view of a larger
 * buffer (a small Buffer is often a slice of Node's shared 8 KiB pool slab, as the codec's
 * output is) into an allocation of its own, exactly its size; an array of more than 64 bytes
 * that is its buffer's only view, exactly its size, is held as given (smaller ones are copied
 * onto V8's heap, where they take less room). Callers must not change a `Uint8Array` after
 * committing it or after `find` returned it (the session manager never does).
 *
 * Expired sessions are never returned: `find` checks the expiry and drops an expired entry it
 * meets. A background sweep every `cleanupInterval` ms drops the rest; it works in slices of at
 * most a few milliseconds and yields to the event loop between them, so even at a million
 * sessions it never holds the loop for long. Its timer is `unref()`'d and never keeps the
 * process alive; `stopCleanup()`, `close()` or `using` end it.
 *
 * Sessions live in slots: Maps from token to slot number, and arrays indexed by slot for the
 * token, the data, the expiry (a packed array of doubles) and the recency links. That keeps the
 * cost per session to a few array cells rather than an object per entry, and lets the sweep
 * scan expiries without touching the Map.
 *
 * @example
 * const store = new MemStore({ cleanupInterval: 30_000, maxBytes: 256 * 1024 * 1024 });
 * store.commit(token, data, new Date(Date.now() + 3_600_000));
 * store.find(token); // data, until the expiry passes
 * store.stopCleanup();
 */
export class MemStore implements IterableStore {
  readonly #now: () => number;
  readonly #max: number;
  readonly #maxBytes: number;
  /** Token → slot, in {@link SHARDS} Maps. */
  #index: Map<string, number>[] = Array.from({ length: SHARDS }, () => new Map());
  #count = 0;
  /** Bytes counted against maxBytes, over every slot in use. */
  #bytes = 0;
  #tokens: (string | undefined)[] = [];
  #data: (Uint8Array | undefined)[] = [];
  /** Expiry per slot in ms; +Infinity for a free slot, so the sweep skips it. */
  #expiry: number[] = [];
  #free: number[] = [];
  #lru = new RecencyList();
  #timer: ReturnType<typeof setInterval> | undefined;
  #sweeping: Promise<number> | undefined;

  /**
   * Makes a store and, unless `cleanupInterval` is 0, starts its background sweep.
   * @param options - See {@link MemStoreOptions}.
   * @throws TypeError naming the option and value when an option is invalid.
   */
  constructor(options: MemStoreOptions = {}) {
    const { cleanupInterval, maxBytes, maxSessions, now } = resolveMemStoreOptions(options);
    this.#now = now;
    this.#max = maxSessions;
    this.#maxBytes = maxBytes;
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
   * The data committed for `token`, or `undefined` when there is none, it has expired or it was
   * evicted. A hit marks the session as the most recently used.
   * @returns the stored bytes (do not change them).
   */
  find(token: string): Uint8Array | undefined {
    const slot = this.#shard(token).get(token);
    if (slot === undefined) return undefined;
    if (!(this.#expiry[slot]! > this.#now())) {
      this.#release(slot);
      return undefined;
    }
    this.#lru.touch(slot);
    return this.#data[slot];
  }

  /**
   * Stores `data` for `token` until `expiry` (copied when it is a view of a larger buffer),
   * replacing data and expiry already held for it, and marks it the most recently used. Past `maxSessions` or `maxBytes`, the least
   * recently used other sessions are evicted until both bounds hold.
   * @throws RangeError when this one session is larger than `maxBytes` (nothing is changed).
   */
  commit(token: string, data: Uint8Array, expiry: Date): void {
    const size = MEMSTORE_ENTRY_OVERHEAD + token.length + data.byteLength;
    if (size > this.#maxBytes) {
      throw new RangeError(
        `MemStore: a session of ${size} bytes (data, token and overhead) is over maxBytes ${this.#maxBytes}`,
      );
    }
    // Up to 64 bytes V8 keeps a Uint8Array's bytes inside the object, on the heap: a copy is
    // cheaper than asking for .buffer (which would move them out) and smaller than any buffer.
    const own = data.byteLength > ON_HEAP_MAX && ownsItsBuffer(data) ? data : new Uint8Array(data);
    let slot = this.#shard(token).get(token);
    if (slot === undefined) {
      if (this.#count >= this.#max) this.#release(this.#lru.head);
      slot = this.#claim(token);
      this.#bytes += size;
    } else {
      this.#bytes += data.byteLength - this.#data[slot]!.byteLength;
      this.#lru.touch(slot);
    }
    this.#data[slot] = own;
    this.#expiry[slot] = expiry.getTime();
    // The committed slot is the most recently used, so the head is another one while over.
    while (this.#bytes > this.#maxBytes) this.#release(this.#lru.head);
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
   * Bytes held as `maxBytes` counts them: data, token characters and
   * {@link MEMSTORE_ENTRY_OVERHEAD} per session, expired ones not yet swept included.
   */
  get bytes(): number {
    return this.#bytes;
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
    this.#maybeCompact();
    resolve(dropped);
  }

  #claim(token: string): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#tokens.length;
      this.#tokens.push(token);
      this.#data.push(undefined);
      this.#expiry.push(Number.POSITIVE_INFINITY);
    } else {
      this.#tokens[slot] = token;
    }
    this.#shard(token).set(token, slot);
    this.#count++;
    this.#lru.append(slot);
    return slot;
  }

  #shard(token: string): Map<string, number> {
    // NaN (an empty token) & 15 is 0.
    return this.#index[token.charCodeAt(token.length - 1) & (SHARDS - 1)]!;
  }

  #release(slot: number): void {
    if (slot === NONE) return;
    const token = this.#tokens[slot]!;
    this.#shard(token).delete(token);
    if (--this.#count === 0) {
      // Nothing left: drop the arrays so memory returns to zero.
      this.#tokens = [];
      this.#data = [];
      this.#expiry = [];
      this.#free = [];
      this.#lru.clear();
      this.#bytes = 0;
      return;
    }
    this.#bytes -= MEMSTORE_ENTRY_OVERHEAD + token.length + this.#data[slot]!.byteLength;
    this.#tokens[slot] = undefined;
    this.#data[slot] = undefined;
    this.#expiry[slot] = Number.POSITIVE_INFINITY;
    this.#lru.unlink(slot);
    this.#free.push(slot);
    // Not while a sweep runs: it walks the slots by number.
    if (this.#sweeping === undefined) this.#maybeCompact();
  }

  #maybeCompact(): void {
    const slots = this.#tokens.length;
    if (slots < COMPACT_MIN_SLOTS || this.#count * 4 > slots) return;
    const tokens: (string | undefined)[] = [];
    const data: (Uint8Array | undefined)[] = [];
    const expiry: number[] = [];
    const lru = new RecencyList();
    for (let slot = this.#lru.head; slot !== NONE; slot = this.#lru.next(slot)) {
      const token = this.#tokens[slot]!;
      const renumbered = tokens.length;
      tokens.push(token);
      data.push(this.#data[slot]);
      expiry.push(this.#expiry[slot]!);
      this.#shard(token).set(token, renumbered); // an update of an existing key: no rehash
      lru.append(renumbered);
    }
    this.#tokens = tokens;
    this.#data = data;
    this.#expiry = expiry;
    this.#free = [];
    this.#lru = lru;
  }
}
