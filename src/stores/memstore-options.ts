/**
 * MemStore's options, their validation, and what a session costs in its byte count.
 * @module
 */

/** Options of {@link MemStore}. */
export interface MemStoreOptions {
  /**
   * Milliseconds between background sweeps that drop expired sessions. 0 turns the background
   * sweep off; expired sessions are still never returned, and are dropped when next looked up.
   * @default 60_000
   */
  cleanupInterval?: number;
  /**
   * Upper bound on the bytes held, counting each session as its data's length, its token's
   * length and {@link MEMSTORE_ENTRY_OVERHEAD} bytes for the rest (the token's string header,
   * the index entry, the recency links, the expiry, the data's array objects). A commit that
   * would pass it evicts the least recently used sessions (found or committed longest ago)
   * until it fits; an evicted session is simply not found (its user is signed out). A single
   * session larger than the bound is refused with a RangeError. `Infinity` turns the bound off.
   *
   * The default is fixed, not a share of the heap, so a store evicts at the same point on a
   * laptop and in production: 64 MiB, small next to Node's heap limit on a 64-bit machine, and
   * room for about 164,000 sessions of 45 bytes or 48,000 of 1 KB. Size it as sessions you
   * must keep × (data bytes + 43 + 320). The live heap holds about that; in a flood the
   * process's RSS grew by up to 5 × maxBytes before V8's first full collection (evicted
   * sessions are old garbage, and V8 lets the old generation grow to a multiple of the live
   * heap before collecting it).
   * @default 67_108_864 (64 MiB)
   */
  maxBytes?: number;
  /**
   * Upper bound on the sessions held. Committing a new token past it evicts the least recently
   * used session (found or committed longest ago). Both bounds apply when both are set.
   * @default undefined (only maxBytes bounds the store)
   */
  maxSessions?: number;
  /**
   * The clock, in milliseconds since the epoch. Tests pass a fake one.
   * @default Date.now
   */
  now?: () => number;
}

/**
 * Bytes {@link MemStoreOptions.maxBytes} counts per session besides its data and token
 * characters. Measured (bench/memstore.ts, section d) as the heap + external growth per session
 * after a forced GC, less data and token characters, at 200,000 sessions of 45 to 1,000 bytes
 * on Node 20 x64: 293–313 bytes (the token's string header, the index Map entry, five slot
 * array cells, the Uint8Array and ArrayBuffer objects). Rounded up.
 */
export const MEMSTORE_ENTRY_OVERHEAD = 320;
/** The default {@link MemStoreOptions.maxBytes}: 64 MiB. */
export const MEMSTORE_DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** Largest delay setInterval accepts (it treats anything larger as 1 ms). */
const MAX_INTERVAL = 2_147_483_647;
/**
 * Whether `data` is its buffer's only view, exactly its size, in a plain fixed-length
 * ArrayBuffer: then holding it keeps nothing else alive. A view of a larger buffer (a small
 * Buffer is often a slice of Node's shared 8 KiB pool slab) would pin all of it.
 */
export function ownsItsBuffer(data: Uint8Array): boolean {
  if (data.byteOffset !== 0) return false; // checked first: reading .buffer costs more
  const buffer = data.buffer as ArrayBuffer & { resizable?: boolean };
  return (
    data.byteLength === buffer.byteLength &&
    buffer instanceof ArrayBuffer &&
    buffer.resizable !== true
  );
}

function invalid(option: string, value: unknown, expected: string): TypeError {
  return new TypeError(`option ${option} is invalid: ${String(value)} (expected ${expected})`);
}

/** {@link MemStoreOptions} checked, with the defaults filled in. */
export interface ResolvedMemStoreOptions {
  cleanupInterval: number;
  maxBytes: number;
  /** +Infinity when unset. */
  maxSessions: number;
  now: () => number;
}

/**
 * Checks the options and fills in the defaults.
 * @returns the resolved options.
 * @throws TypeError naming the option and value when an option is invalid.
 */
export function resolveMemStoreOptions(options: MemStoreOptions): ResolvedMemStoreOptions {
  const {
    cleanupInterval = 60_000,
    maxBytes = MEMSTORE_DEFAULT_MAX_BYTES,
    maxSessions,
    now = Date.now,
  } = options;
  if (
    typeof cleanupInterval !== "number" ||
    !(cleanupInterval >= 0 && cleanupInterval <= MAX_INTERVAL)
  ) {
    throw invalid("cleanupInterval", cleanupInterval, `0 to ${MAX_INTERVAL} milliseconds`);
  }
  if (
    typeof maxBytes !== "number" ||
    !((Number.isSafeInteger(maxBytes) && maxBytes > 0) || maxBytes === Number.POSITIVE_INFINITY)
  ) {
    throw invalid("maxBytes", maxBytes, "a positive integer of bytes, or Infinity");
  }
  if (maxSessions !== undefined && !(Number.isSafeInteger(maxSessions) && maxSessions > 0)) {
    throw invalid("maxSessions", maxSessions, "a positive integer");
  }
  if (typeof now !== "function") throw invalid("now", now, "a function returning milliseconds");
  return {
    cleanupInterval,
    maxBytes,
    maxSessions: maxSessions ?? Number.POSITIVE_INFINITY,
    now,
  };
}
