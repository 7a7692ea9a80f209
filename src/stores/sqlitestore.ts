/**
 * SqliteStore: sessions in an SQLite database the application opens — `node:sqlite`'s
 * `DatabaseSync` or a better-sqlite3 `Database` — with SCS's sqlite3store schema.
 * @module
 */
import { performance } from "node:perf_hooks";
import { StoreUnavailableError } from "../errors.ts";
import type { IterableStore } from "../store.ts";
import { cleanupHandler } from "./cleanup-handler.ts";
import {
  fn,
  interval,
  julianDay,
  logCleanupFailure,
  quoted,
  startCleanup,
  tableParts,
} from "./sql-common.ts";
import { type Checkpointer, openCheckpointer } from "./sqlite-checkpointer.ts";

/** A value bound to a statement parameter. */
export type SqliteValue = string | number | bigint | Uint8Array;

/** The part of a prepared statement the store uses; node:sqlite and better-sqlite3 both have it. */
export interface SqliteStatement {
  run(...params: SqliteValue[]): { changes: number | bigint };
  get(...params: SqliteValue[]): unknown;
  all(...params: SqliteValue[]): unknown[];
}

/**
 * The part of a database handle the store uses: `prepare`. A `node:sqlite` `DatabaseSync`
 * (Node >= 22.13) and a better-sqlite3 `Database` both fit.
 */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
}

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * How often expired rows are deleted, in ms (SCS's default); 0 turns background cleanup off
   * (expired rows are still never returned).
   * @default 300_000
   */
  cleanupInterval?: number;
  /**
   * Table name: letters, digits and `_`, not starting with a digit or `sqlite_`, at most 52
   * characters. Quoted in every statement.
   * @default "sessions"
   */
  table?: string;
  /**
   * Run `CREATE TABLE/INDEX IF NOT EXISTS` on first use.
   * @default true
   */
  createTable?: boolean;
  /** The clock, in ms since the epoch (tests inject a fake one). @default Date.now */
  now?: () => number;
  /** Told about background cleanup failures (a handler that throws or rejects is logged). @default one line on stderr */
  onError?: (err: unknown) => void;
}

/** Longest stretch of cleanup batches before the sweep yields to the event loop (no WAL), ms. */
const SLICE_MS = 3;
/** What one cleanup batch aims to take, ms; its row count adapts to the measured speed. */
const BATCH_MS = 1.5;
const MIN_BATCH = 64;
const MAX_BATCH = 4096;
/** Lone surrogates: SQLite stores text as UTF-8, where they cannot be told apart (U+FFFD). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

interface Statements {
  find: SqliteStatement;
  commit: SqliteStatement;
  delete: SqliteStatement;
  all: SqliteStatement;
  cleanup: SqliteStatement;
  checkpoint: SqliteStatement;
  journalMode: SqliteStatement;
}

/**
 * A synchronous session store on SQLite, with SCS's sqlite3store table:
 * `sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)` plus an index
 * on `expiry` (a Julian day), created on first use. Statements are prepared once. Every method
 * answers synchronously (values, not Promises), as MemStore does, so the manager adds no
 * microtask hop; SQLite's own work blocks the event loop for the few microseconds a keyed
 * statement takes.
 *
 * Expiry is compared with the store's clock (`now`, Date.now by default). Expired rows are
 * never returned; the background cleanup (every `cleanupInterval` ms, on an unref'd timer)
 * deletes them in batches sized to take about a millisecond each and yields to the event loop
 * between them; in WAL mode it checkpoints after each batch on a second connection in a worker
 * thread, so the checkpoint's fsyncs never hold the event loop and SQLite's automatic
 * checkpoint never has a sweep's worth of pages to copy at once.
 *
 * The database handle is yours: `close()` stops the cleanup and never closes it. Use WAL mode
 * (`PRAGMA journal_mode = WAL`) and a busy timeout when several processes share the file; a
 * statement that still finds the database locked throws {@link StoreUnavailableError} (503).
 *
 * @example
 * import { DatabaseSync } from "node:sqlite"; // or: import Database from "better-sqlite3"
 * const db = new DatabaseSync("sessions.db");
 * db.exec("PRAGMA journal_mode = WAL");
 * const sessions = new SessionManager({ store: new SqliteStore(db) });
 */
export class SqliteStore implements IterableStore {
  readonly #db: SqliteDatabase;
  readonly #table: string;
  readonly #index: string;
  readonly #createTable: boolean;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  #statements: Statements | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;
  /** Bumped by close(): a sweep that sees it change stops at its next batch. */
  #generation = 0;
  /** Rows per cleanup batch, carried from sweep to sweep. */
  #batch = 256;
  /** The sweep's checkpoint worker: undefined until a WAL sweep needs it, null when there is none. */
  #checkpointer: Checkpointer | null | undefined;

  /**
   * @param db - a `node:sqlite` DatabaseSync or a better-sqlite3 Database, opened by you.
   * @param options - see {@link SqliteStoreOptions}.
   * @throws TypeError naming the option and value when an option is invalid.
   */
  constructor(db: SqliteDatabase, options: SqliteStoreOptions = {}) {
    if (typeof (db as Partial<SqliteDatabase> | null)?.prepare !== "function") {
      throw new TypeError(
        `db is invalid: ${String(db)} (expected a node:sqlite DatabaseSync or a better-sqlite3 Database)`,
      );
    }
    const parts = tableParts(options.table, false);
    this.#db = db;
    this.#table = quoted(parts);
    this.#index = quoted([`${parts[0]}_expiry_idx`]);
    this.#createTable = options.createTable !== false;
    this.#now = fn("now", options.now, Date.now);
    this.#onError = cleanupHandler(
      "sqlitestore",
      fn("onError", options.onError, logCleanupFailure("sqlitestore")),
    );
    const ms = interval("cleanupInterval", options.cleanupInterval, 300_000);
    this.#timer = startCleanup(this, ms, (store) => {
      store.deleteExpired().catch(store.#onError);
    });
  }

  /** Data for a token, or `undefined` when missing or expired. */
  find(token: string): Uint8Array | undefined {
    if (LONE_SURROGATE.test(token)) return undefined;
    const s = this.#statements ?? this.#prepare();
    let row: { data: unknown } | undefined;
    try {
      row = s.find.get(token, julianDay(this.#now())) as { data: unknown } | undefined;
    } catch (err) {
      throw unavailable(err);
    }
    return row === undefined ? undefined : bytes(row.data);
  }

  /**
   * Inserts or replaces the token's data and expiry.
   * @throws TypeError for a token with a lone surrogate (SQLite could not keep it apart).
   */
  commit(token: string, data: Uint8Array, expiry: Date): void {
    if (LONE_SURROGATE.test(token)) {
      throw new TypeError("token is not well-formed Unicode (a lone surrogate): not stored");
    }
    const s = this.#statements ?? this.#prepare();
    const day = julianDay(expiry.getTime());
    try {
      // An invalid Date is stored as long expired.
      s.commit.run(token, data, Number.isNaN(day) ? 0 : day);
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Removes the token; a missing token is a no-op. */
  delete(token: string): void {
    if (LONE_SURROGATE.test(token)) return;
    const s = this.#statements ?? this.#prepare();
    try {
      s.delete.run(token);
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Every unexpired session, keyed by token. */
  all(): Map<string, Uint8Array> {
    const s = this.#statements ?? this.#prepare();
    let rows: { token: string; data: unknown }[];
    try {
      rows = s.all.all(julianDay(this.#now())) as { token: string; data: unknown }[];
    } catch (err) {
      throw unavailable(err);
    }
    const out = new Map<string, Uint8Array>();
    for (const row of rows) out.set(row.token, bytes(row.data));
    return out;
  }

  /**
   * Deletes the rows expired by now in batches of about a millisecond each, yielding to the
   * event loop after each batch in WAL mode (every few milliseconds otherwise). In WAL mode each
   * batch's pages are checkpointed before the next batch, on a second connection in a worker
   * thread (see sqlite-checkpointer.ts), so the checkpoint's fsyncs never hold the event loop
   * and SQLite's automatic checkpoint never has a sweep's worth of pages to copy in a request's
   * commit. The background cleanup calls it; call it yourself when `cleanupInterval` is 0.
   * While a sweep runs, returns that sweep's promise.
   * @returns a Promise of the number of rows deleted.
   */
  deleteExpired(): Promise<number> {
    if (this.#sweeping !== undefined) return this.#sweeping;
    const sweeping = this.#sweep(this.#generation);
    this.#sweeping = sweeping;
    const done = (): void => {
      if (this.#sweeping === sweeping) this.#sweeping = undefined;
    };
    sweeping.then(done, done);
    return sweeping;
  }

  async #sweep(generation: number): Promise<number> {
    const before = julianDay(this.#now());
    let deleted = 0;
    try {
      const s = this.#statements ?? this.#prepare();
      const mode = s.journalMode.get() as { journal_mode?: unknown } | undefined;
      const wal = String(mode?.journal_mode).toLowerCase() === "wal";
      for (;;) {
        // A slice: one batch in WAL mode, batches for up to SLICE_MS otherwise (each commit of
        // a rollback journal pays its own fsync here; WAL mode is the one to use).
        const until = performance.now() + SLICE_MS;
        let full: boolean;
        do {
          if (generation !== this.#generation) return deleted;
          const limit = this.#batch;
          const started = performance.now();
          const n = Number(s.cleanup.run(before, limit).changes);
          deleted += n;
          full = n === limit;
          // Halve or double: a batch's time is a fixed commit cost plus a cost per row.
          const took = performance.now() - started;
          if (took < BATCH_MS / 2) this.#batch = Math.min(MAX_BATCH, limit * 2);
          else if (took > BATCH_MS * 2) this.#batch = Math.max(MIN_BATCH, limit >> 1);
        } while (full && !wal && performance.now() < until);
        if (!full) return deleted;
        if (wal) await this.#checkpoint(s);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** The WAL's pages into the database: on the worker when there is one, else here. */
  async #checkpoint(s: Statements): Promise<void> {
    if (this.#checkpointer === undefined) {
      this.#checkpointer = openCheckpointer(this.#db as object) ?? null;
    }
    const worker = this.#checkpointer;
    if (worker !== null) {
      const generation = this.#generation;
      try {
        await worker.checkpoint();
        return;
      } catch (err) {
        // close() ended the worker: the sweep stops at its next batch.
        if (generation !== this.#generation) return;
        // The worker could not open the file or ended: checkpoint here from now on.
        worker.close();
        this.#checkpointer = null;
        this.#onError(err);
      }
    }
    s.checkpoint.get();
  }

  /** Ends the background cleanup. Idempotent; the store keeps working. */
  stopCleanup(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Stops the background cleanup and any sweep in progress (at its next batch), so you can
   * close the database afterwards. Never closes the database.
   */
  close(): void {
    this.stopCleanup();
    this.#generation++;
    this.#sweeping = undefined;
    this.#checkpointer?.close();
    this.#checkpointer = undefined;
  }

  /** `using store = new SqliteStore(db)`: same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #prepare(): Statements {
    const t = this.#table;
    const db = this.#db;
    try {
      if (this.#createTable) {
        db.prepare(
          `CREATE TABLE IF NOT EXISTS ${t} (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`,
        ).run();
        db.prepare(`CREATE INDEX IF NOT EXISTS ${this.#index} ON ${t} (expiry)`).run();
      }
      this.#statements = {
        find: db.prepare(`SELECT data FROM ${t} WHERE token = ? AND ? < expiry`),
        commit: db.prepare(
          `INSERT INTO ${t} (token, data, expiry) VALUES (?, ?, ?) ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`,
        ),
        delete: db.prepare(`DELETE FROM ${t} WHERE token = ?`),
        all: db.prepare(`SELECT token, data FROM ${t} WHERE ? < expiry`),
        cleanup: db.prepare(
          `DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE expiry <= ? LIMIT ?)`,
        ),
        // A no-op unless the database is in WAL mode.
        checkpoint: db.prepare("PRAGMA wal_checkpoint(PASSIVE)"),
        journalMode: db.prepare("PRAGMA journal_mode"),
      };
    } catch (err) {
      throw unavailable(err);
    }
    return this.#statements;
  }
}

/** A data cell as bytes: BLOBs arrive as Uint8Array (node:sqlite) or Buffer (better-sqlite3). */
function bytes(cell: unknown): Uint8Array {
  if (cell instanceof Uint8Array) return cell;
  // Another program may have written text; SQLite hands it back as a string.
  return new TextEncoder().encode(String(cell ?? ""));
}

/**
 * SQLITE_BUSY / SQLITE_LOCKED (another connection holds the lock past the busy timeout) as
 * {@link StoreUnavailableError}; any other error unchanged. SQLite's messages never carry the
 * bound values, so no token reaches them.
 */
function unavailable(err: unknown): unknown {
  const e = err as { code?: unknown; errcode?: unknown } | null;
  const primary = typeof e?.errcode === "number" ? e.errcode & 0xff : -1; // node:sqlite
  const code = typeof e?.code === "string" ? e.code : ""; // better-sqlite3
  if (primary === 5 || primary === 6 || /^SQLITE_(BUSY|LOCKED)/.test(code)) {
    return new StoreUnavailableError("sqlite unavailable: the database is locked", { cause: err });
  }
  return err;
}
