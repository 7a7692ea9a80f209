/**
 * `scs-ts/memstore`: the in-memory session store, SCS's memstore. For one process; data is lost
 * when it exits.
 *
 * @example
 * import { MemStore } from "scs-ts/memstore";
 * const store = new MemStore({ cleanupInterval: 60_000, maxBytes: 128 * 1024 * 1024 });
 * @module
 */
export {
  MEMSTORE_DEFAULT_MAX_BYTES,
  MEMSTORE_ENTRY_OVERHEAD,
  MemStore,
  type MemStoreOptions,
} from "./memstore.ts";
