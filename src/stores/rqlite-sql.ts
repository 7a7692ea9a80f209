/**
 * The SQL of {@link RqliteStore}: SCS's session table, and the versions table beside it that
 * keeps late writes from undoing newer ones. Internal to the rqlite store.
 *
 * Why: a write that timed out may still be applied later — it waited in a kernel's send queue
 * through a partition, in a node forwarding it to the leader, in a proxy — after the client
 * retried it elsewhere and went on. A plain upsert arriving then brings back an older session
 * (an acknowledged write lost) or a signed-out one. So every write also records, in
 * `<table>_versions`, when the app server issued it (`at`, ms), and a commit changes the row
 * only if it is the newest write the token has had: a late commit finds a newer `at` and
 * changes nothing. A delete leaves a tombstone there (`at` = {@link TOMBSTONE}, newer than any
 * commit), kept until the later of the row's expiry and `now + tombstoneLifetime`: a commit
 * arriving after it is swept carries an expiry that has passed (as long as no write is in
 * flight longer than that), so it is invisible too.
 *
 * The session table itself is untouched (SCS's schema): a Go SCS service sharing it never sees
 * a version row, and its cleanup never removes one.
 * @module
 */
import type { Statement } from "./rqlite-client.ts";

/** The `at` of a tombstone: later than any commit can be. */
export const TOMBSTONE = 1e300;

/** Rows per batch of `all()` and of the cleanup. */
export const BATCH = 1000;

/** The statements of one store, built once for its table. */
export interface StoreSql {
  find: string;
  /**
   * A commit: with versions, two statements in one transaction (claim the version, then write
   * the row if the claim held); the first one's rowsAffected is 0 when a newer write or a
   * tombstone holds the token.
   */
  commit: (token: string, hex: string, expiry: number, at: number) => Statement[];
  /** With versions: the token's `at` (a tombstone's is {@link TOMBSTONE}). */
  version: string;
  /** The delete, as one transaction (a tombstone first, when enabled). */
  delete: (token: string, tombstoneExpiry: number) => Statement[];
  page: string;
  /** One batch of the cleanup: the sessions' statement first, then the versions'. */
  cleanup: (now: number) => Statement[];
  /** `CREATE TABLE/INDEX IF NOT EXISTS` of every table the store uses. */
  schema: Statement[];
}

/** The versions table of a session table. */
export function versionsTable(table: string): string {
  return `${table}_versions`;
}

/**
 * Builds the statements for `table`, with or without the versions table.
 * @returns the store's SQL; every statement takes the token as a bound parameter.
 */
export function storeSql(table: string, versions: boolean): StoreSql {
  const t = `"${table}"`;
  const d = `"${versionsTable(table)}"`;
  const upsert = "ON CONFLICT(token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry";
  const sweep = (name: string) =>
    `DELETE FROM ${name} WHERE token IN (SELECT token FROM ${name} WHERE expiry < ? LIMIT ${BATCH})`;
  const schema: Statement[] = [
    [
      `CREATE TABLE IF NOT EXISTS ${t} (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`,
    ],
    [`CREATE INDEX IF NOT EXISTS "${table}_expiry_idx" ON ${t}(expiry)`],
  ];
  if (versions) {
    schema.push(
      [
        `CREATE TABLE IF NOT EXISTS ${d} (token TEXT PRIMARY KEY, at REAL NOT NULL, expiry REAL NOT NULL)`,
      ],
      [`CREATE INDEX IF NOT EXISTS "${versionsTable(table)}_expiry_idx" ON ${d}(expiry)`],
    );
  }
  const deleteRow = `DELETE FROM ${t} WHERE token = ?`;
  // The tombstone lasts as long as the row would have, and at least until `?` (now + the
  // tombstone lifetime): a commit still in flight may carry a later expiry than the row has.
  const tombstone = `INSERT INTO ${d} (token, at, expiry) VALUES (?, ${TOMBSTONE}, max(?, coalesce((SELECT expiry FROM ${t} WHERE token = ?), 0))) ON CONFLICT(token) DO UPDATE SET at = excluded.at, expiry = max(expiry, excluded.expiry)`;
  // Claims the version: only a write issued after the newest one so far (and no tombstone).
  const claim = `INSERT INTO ${d} (token, at, expiry) VALUES (?, ?, ?) ON CONFLICT(token) DO UPDATE SET at = excluded.at, expiry = max(expiry, excluded.expiry) WHERE excluded.at > at`;
  const guarded = `INSERT INTO ${t} (token, data, expiry) SELECT ?, unhex(?), ? WHERE (SELECT at FROM ${d} WHERE token = ?) = ? ${upsert}`;
  const plain = `INSERT INTO ${t} (token, data, expiry) VALUES (?, unhex(?), ?) ${upsert}`;
  return {
    find: `SELECT data, typeof(data) FROM ${t} WHERE token = ? AND ? < expiry`,
    commit: versions
      ? (token, hex, expiry, at) => [
          [claim, token, at, expiry],
          [guarded, token, hex, expiry, token, at],
        ]
      : (token, hex, expiry) => [[plain, token, hex, expiry]],
    version: `SELECT at FROM ${d} WHERE token = ?`,
    delete: versions
      ? (token, expiry) => [
          [tombstone, token, expiry, token],
          [deleteRow, token],
        ]
      : (token) => [[deleteRow, token]],
    page: `SELECT token, data, typeof(data) FROM ${t} WHERE token > ? AND ? < expiry ORDER BY token LIMIT ${BATCH}`,
    cleanup: versions
      ? (now) => [
          [sweep(t), now],
          [sweep(d), now],
        ]
      : (now) => [[sweep(t), now]],
    schema,
  };
}
