/**
 * `scs-ts/rqlitestore`: sessions in rqlite, with a small failover-aware rqlite HTTP client.
 * @module
 */
export {
  type ExecuteOptions,
  type ExecuteResult,
  type QueryOptions,
  type QueryResult,
  type ReadConsistency,
  RqliteConnection,
  type RqliteConnectionOptions,
  type SqlValue,
  type Statement,
} from "./rqlite-client.ts";
export { RqliteAuthError, RqliteError } from "./rqlite-errors.ts";
export { julianDay, RqliteStore, type RqliteStoreOptions } from "./rqlitestore.ts";
