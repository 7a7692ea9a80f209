/**
 * `scs-ts/sqlitestore`: sessions in an SQLite database you open — `node:sqlite` (Node >= 22.13)
 * or better-sqlite3 — that survive a restart of the process, with SCS's sqlite3store schema.
 * Synchronous, like MemStore; no dependency (the driver is yours).
 *
 * @example
 * import { DatabaseSync } from "node:sqlite";
 * import { SqliteStore } from "scs-ts/sqlitestore";
 * const store = new SqliteStore(new DatabaseSync("sessions.db"));
 * @module
 */
export {
  type SqliteDatabase,
  type SqliteStatement,
  SqliteStore,
  type SqliteStoreOptions,
  type SqliteValue,
} from "./sqlitestore.ts";
