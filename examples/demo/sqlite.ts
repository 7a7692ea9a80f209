/**
 * Opens an SQLite database for SqliteStore with the driver this Node has: `node:sqlite` (Node
 * >= 22.13), else better-sqlite3 (an optional peer dependency; its 12.x line builds on Node 20).
 * WAL mode with synchronous = NORMAL and a 5 s busy timeout, as the README recommends.
 * @module
 */
import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import type { SqliteDatabase } from "../../src/stores/sqlitestore.ts";

/** A database handle: what SqliteStore needs, plus `exec` and `close` for the owner. */
export interface SqliteHandle extends SqliteDatabase {
  exec(sql: string): unknown;
  close(): unknown;
}

/** The drivers, in order of preference. */
export const DRIVERS = ["node:sqlite", "better-sqlite3"] as const;
export type DriverName = (typeof DRIVERS)[number];

/**
 * Loads a driver.
 * @returns a function opening a database file (":memory:" too) with those settings.
 * @throws when this Node cannot load it (node:sqlite before 22.13; better-sqlite3 not installed
 * or built for another Node).
 */
export async function loadDriver(name: DriverName): Promise<(path: string) => SqliteHandle> {
  let open: (path: string) => SqliteHandle;
  if (name === "node:sqlite") {
    const specifier: string = name; // not in @types/node 20
    const { DatabaseSync } = (await import(specifier)) as {
      DatabaseSync: new (path: string) => SqliteHandle;
    };
    open = (path) => new DatabaseSync(path);
  } else {
    const Database = createRequire(import.meta.url)(name) as typeof BetterSqlite3;
    open = (path) => new Database(path);
  }
  open(":memory:").close(); // better-sqlite3 loads its native addon only now
  return (path) => {
    const db = open(path);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA busy_timeout = 5000");
    return db;
  };
}

/** @returns the database at `path`, opened with the first driver that loads, and its name. */
export async function openSessionDb(path: string): Promise<{ db: SqliteHandle; driver: string }> {
  const reasons: string[] = [];
  for (const name of DRIVERS) {
    try {
      return { db: (await loadDriver(name))(path), driver: name };
    } catch (err) {
      reasons.push(`${name}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    }
  }
  throw new Error(`no SQLite driver on this Node (${reasons.join("; ")})`);
}
