/**
 * The SQL of {@link RqliteStore}: SCS's session table, and the tombstone table beside it that
 * keeps a deleted token dead. Internal to the rqlite store.
 *
 * Why tombstones: a commit that timed out may still be applied later (it waited in a proxy, a
 * load balancer or a node's queue, and the client retried it elsewhere). If the user signed out
 * meanwhile, that late upsert would bring the session back. So a delete records the token in
 * `<table>_tombstones` in the same transaction, kept until the later of the row's expiry and
 * `now + tombstoneLifetime`, and every commit is conditional on there being no tombstone for
 * its token. A late commit then changes nothing; one arriving after the tombstone is swept
 * carries an expiry that has passed (as long as no write is in flight longer than the
 * lifetime), so it is invisible too.
 *
 * The session table itself is untouched (SCS's schema): a Go SCS service sharing it never sees
 * a tombstone, and its cleanup never removes one.
 * @module
 */
import type { Statement } from "./rqlite-client.ts";

/** Rows per batch of `all()` and of the cleanup. */
export const BATCH = 1000;

/** The statements of one store, built once for its table. */
export interface StoreSql {
  find: string;
  commit: string;
  /** The delete, as one transaction (a tombstone first, when enabled). */
  delete: (token: string, tombstoneExpiry: number) => Statement[];
  page: string;
  /** One batch of the cleanup: the sessions' statement first, then the tombstones'. */
  cleanup: (now: number) => Statement[];
  /** `CREATE TABLE/INDEX IF NOT EXISTS` of every table the store uses. */
  schema: Statement[];
}

/** The tombstone table of a session table. */
export function tombstoneTable(table: string): string {
  return `${table}_tombstones`;
}

/**
 * Builds the statements for `table`, with or without tombstones.
 * @returns the store's SQL; every statement takes the token as a bound parameter.
 */
export function storeSql(table: string, tombstones: boolean): StoreSql {
  const t = `"${table}"`;
  const d = `"${tombstoneTable(table)}"`;
  const upsert = "ON CONFLICT(token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry";
  const sweep = (name: string) =>
    `DELETE FROM ${name} WHERE token IN (SELECT token FROM ${name} WHERE expiry < ? LIMIT ${BATCH})`;
  const schema: Statement[] = [
    [
      `CREATE TABLE IF NOT EXISTS ${t} (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`,
    ],
    [`CREATE INDEX IF NOT EXISTS "${table}_expiry_idx" ON ${t}(expiry)`],
  ];
  if (tombstones) {
    schema.push(
      [`CREATE TABLE IF NOT EXISTS ${d} (token TEXT PRIMARY KEY, expiry REAL NOT NULL)`],
      [`CREATE INDEX IF NOT EXISTS "${tombstoneTable(table)}_expiry_idx" ON ${d}(expiry)`],
    );
  }
  const deleteRow = `DELETE FROM ${t} WHERE token = ?`;
  // The tombstone lasts as long as the row would have, and at least until `?` (now + the
  // tombstone lifetime): a commit still in flight may carry a later expiry than the row has.
  const tombstone = `INSERT INTO ${d} (token, expiry) VALUES (?, max(?, coalesce((SELECT expiry FROM ${t} WHERE token = ?), 0))) ON CONFLICT(token) DO UPDATE SET expiry = max(expiry, excluded.expiry)`;
  return {
    find: `SELECT data, typeof(data) FROM ${t} WHERE token = ? AND ? < expiry`,
    commit: tombstones
      ? `INSERT INTO ${t} (token, data, expiry) SELECT ?, unhex(?), ? WHERE NOT EXISTS (SELECT 1 FROM ${d} WHERE token = ?) ${upsert}`
      : `INSERT INTO ${t} (token, data, expiry) VALUES (?, unhex(?), ?) ${upsert}`,
    delete: tombstones
      ? (token, expiry) => [
          [tombstone, token, expiry, token],
          [deleteRow, token],
        ]
      : (token) => [[deleteRow, token]],
    page: `SELECT token, data, typeof(data) FROM ${t} WHERE token > ? AND ? < expiry ORDER BY token LIMIT ${BATCH}`,
    cleanup: tombstones
      ? (now) => [
          [sweep(t), now],
          [sweep(d), now],
        ]
      : (now) => [[sweep(t), now]],
    schema,
  };
}
