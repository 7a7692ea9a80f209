/**
 * PostgresStore: sessions in PostgreSQL through a `pg` Pool, with SCS's postgresstore schema.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { SessionError, StoreUnavailableError } from "../errors.ts";
import type { IterableStore } from "../store.ts";
import { cleanupHandler } from "./cleanup-handler.ts";
import {
  fn,
  interval,
  invalid,
  logCleanupFailure,
  quoted,
  startCleanup,
  tableParts,
} from "./sql-common.ts";

/** A parameterized statement, as `pg` takes it; `name` makes it a prepared statement. */
export interface PgQueryConfig {
  text: string;
  values?: unknown[];
  name?: string;
}

/** The part of a `pg` result the store reads. */
export interface PgQueryResult {
  rows: unknown[];
  rowCount: number | null;
}

/** A client checked out of the pool (`pg`'s `PoolClient`). */
export interface PgPoolClient {
  query(config: PgQueryConfig): Promise<PgQueryResult>;
  /** Back to the pool; with an error, the pool closes the connection instead. */
  release(err?: Error | boolean): void;
  /** A checked-out client reports a lost connection here (and would throw without a listener). */
  once(event: "error", listener: (err: Error) => void): unknown;
  removeListener(event: "error", listener: (err: Error) => void): unknown;
}

/**
 * The part of a `pg` Pool the store uses: `connect` with a callback, which hands over the
 * client synchronously, so its error listener is on before any more bytes are read.
 */
export interface PgPool {
  connect(callback: (err: Error | undefined, client: PgPoolClient | undefined) => void): void;
}

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /**
   * How often expired rows are deleted, in ms (SCS's default); 0 turns background cleanup off
   * (expired rows are still never returned).
   * @default 300_000
   */
  cleanupInterval?: number;
  /**
   * Table name, optionally schema-qualified (`"app.sessions"`): letters, digits and `_`, at
   * most 52 characters each. Quoted in every statement, so matched case-sensitively.
   * @default "sessions"
   */
  table?: string;
  /**
   * Run `CREATE TABLE/INDEX IF NOT EXISTS` once, before the first statement.
   * @default true
   */
  createTable?: boolean;
  /**
   * Longest a call may take, in ms, waiting for a pooled connection and retries included;
   * then it rejects with {@link StoreUnavailableError} (503).
   * @default 5_000
   */
  deadline?: number;
  /** The clock expiry is compared with, in ms since the epoch. @default Date.now */
  now?: () => number;
  /** Told about background cleanup failures (a handler that throws or rejects is logged). @default one line on stderr */
  onError?: (err: unknown) => void;
}

/** Rows per cleanup batch and per page of `all()`. */
const BATCH = 1000;
/**
 * SQLSTATEs a CREATE ... IF NOT EXISTS raced by another server's can raise: unique_violation
 * (in the catalogue), duplicate_table (the table or index) and duplicate_object (its row type).
 */
const DUPLICATE_ON_CREATE = new Set(["23505", "42P07", "42710"]);
/** First retry delay and the cap of the exponential backoff, ms. */
const BACKOFF_MS = 25;
const MAX_BACKOFF_MS = 500;
/** PostgreSQL text holds no NUL, and UTF-8 cannot keep lone surrogates apart. */
const UNSTORABLE = /[\0\uD800-\uDFFF]/u;
/** SQLSTATEs worth another attempt: connection lost, server shutting down or starting, too many connections, serialization. */
const RETRY_STATE = /^(08|57P0[1-3]|53300|40001|40P01)/;
/** SQLSTATEs that mean the store is unusable for now (auth, no database, resources, operator, system). */
const DOWN_STATE = /^(28|3D|53|57|58|XX)/;
/** pg's own messages for a lost or unreachable connection (they carry no data). */
const CONNECTION_MESSAGE =
  /^(Connection terminated( unexpectedly)?|Connection terminated due to connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)$/;

type Kind = "retry" | "down" | "sql";

interface Statements {
  find: PgQueryConfig;
  commit: PgQueryConfig;
  delete: PgQueryConfig;
  page: PgQueryConfig;
  cleanup: PgQueryConfig;
  create: string;
}

/**
 * A session store on PostgreSQL, for app servers that share one database, with SCS's
 * postgresstore table so a table shared with a Go service keeps working:
 * `sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)` plus an
 * index on `expiry`, created on first use. Commits are `INSERT ... ON CONFLICT (token) DO
 * UPDATE`; every statement is parameterized and prepared once per connection.
 *
 * **Clock.** Expiry is compared with the client's clock — the store's `now` (Date.now), the
 * same clock the session manager computed the expiry from — passed as a parameter, not with
 * the database's `current_timestamp`. App servers sharing a table should keep their clocks in
 * sync (NTP), as they must anyway for the expiries they write.
 *
 * **Failures.** A call waits for a pooled connection and its answer at most `deadline` ms. A
 * lost connection (a server restart, a killed backend), a refused connect or a server still
 * starting is retried with backoff within the deadline — every statement is keyed on the token
 * and safe to repeat. What is left then, and pool or connect timeouts, auth failures and the
 * like reject with {@link StoreUnavailableError} (503), whose message names only the error
 * code: no token, no credential. A connection still busy at the deadline is closed, not
 * returned to the pool, but its statement is not cancelled: give the pool `statement_timeout`
 * under the deadline and PostgreSQL cancels one stuck behind a lock (otherwise a commit
 * answered 503 may still land). Other SQL errors reject with {@link SessionError}, the pg error as
 * `cause`.
 *
 * The pool is yours: `close()` stops the cleanup and never ends it. As `pg` asks, give the
 * pool an `error` listener: idle connections report a server restart there.
 *
 * @example
 * import pg from "pg";
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * pool.on("error", (err) => console.error("postgres pool:", err.message));
 * const sessions = new SessionManager({ store: new PostgresStore(pool) });
 */
export class PostgresStore implements IterableStore {
  readonly #pool: PgPool;
  readonly #sql: Statements;
  readonly #deadline: number;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  #created: boolean;
  #ready: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #cleaning: Promise<number> | undefined;
  /** Bumped by close(): a cleanup that sees it change stops at its next batch. */
  #generation = 0;

  /**
   * @param pool - a `pg` Pool (or anything with its callback `connect`), opened by you.
   * @param options - see {@link PostgresStoreOptions}.
   * @throws TypeError naming the option and value when an option is invalid.
   */
  constructor(pool: PgPool, options: PostgresStoreOptions = {}) {
    if (typeof (pool as Partial<PgPool> | null)?.connect !== "function") {
      throw new TypeError(`pool is invalid: ${String(pool)} (expected a pg Pool)`);
    }
    const parts = tableParts(options.table, true);
    const deadline = options.deadline ?? 5_000;
    if (typeof deadline !== "number" || !(deadline > 0 && deadline <= 2_147_483_647)) {
      throw invalid("deadline", deadline, "a positive number of milliseconds");
    }
    this.#pool = pool;
    this.#deadline = deadline;
    this.#created = options.createTable === false;
    this.#now = fn("now", options.now, Date.now);
    this.#onError = cleanupHandler(
      "postgresstore",
      fn("onError", options.onError, logCleanupFailure("postgresstore")),
    );
    this.#sql = statements(parts);
    const ms = interval("cleanupInterval", options.cleanupInterval, 300_000);
    this.#timer = startCleanup(this, ms, (store) => {
      store.deleteExpired().catch(store.#onError);
    });
  }

  /** Data for a token, or `undefined` when missing or expired. */
  find(token: string): Promise<Uint8Array | undefined> {
    if (UNSTORABLE.test(token)) return Promise.resolve(undefined);
    return this.#call(this.#sql.find, [token, new Date(this.#now())]).then(firstData);
  }

  /**
   * Inserts or replaces the token's data and expiry.
   * @throws (rejects with) TypeError for a token PostgreSQL text cannot hold (NUL, a lone surrogate).
   */
  commit(token: string, data: Uint8Array, expiry: Date): Promise<void> {
    if (UNSTORABLE.test(token)) {
      return Promise.reject(
        new TypeError("token holds NUL or a lone surrogate: PostgreSQL text cannot store it"),
      );
    }
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    // An invalid Date is stored as long expired.
    const at = Number.isNaN(expiry.getTime()) ? new Date(0) : expiry;
    return this.#call(this.#sql.commit, [token, bytes, at]).then(nothing);
  }

  /** Removes the token; a missing token is a no-op. */
  delete(token: string): Promise<void> {
    if (UNSTORABLE.test(token)) return Promise.resolve();
    return this.#call(this.#sql.delete, [token]).then(nothing);
  }

  /** Every unexpired session, read in pages of 1000 rows in token order. */
  async all(): Promise<Map<string, Uint8Array>> {
    const now = new Date(this.#now());
    const out = new Map<string, Uint8Array>();
    let after = "";
    for (;;) {
      const { rows } = await this.#call(this.#sql.page, [after, now]);
      for (const row of rows as { token: string; data: Uint8Array }[]) out.set(row.token, row.data);
      if (rows.length < BATCH) return out;
      after = (rows[rows.length - 1] as { token: string }).token;
    }
  }

  /**
   * Deletes expired rows in batches of 1000 (`FOR UPDATE SKIP LOCKED`, so app servers sharing
   * the table do not queue behind each other) until a batch deletes fewer. The background
   * cleanup calls it; while one runs, returns that run's promise.
   * @returns a Promise of the number of rows deleted.
   */
  deleteExpired(): Promise<number> {
    if (this.#cleaning !== undefined) return this.#cleaning;
    const generation = this.#generation;
    const run = (async () => {
      const now = new Date(this.#now());
      let total = 0;
      while (generation === this.#generation) {
        const n = (await this.#call(this.#sql.cleanup, [now])).rowCount ?? 0;
        total += n;
        if (n < BATCH) break;
      }
      return total;
    })();
    const cleaning = run.finally(() => {
      if (this.#cleaning === cleaning) this.#cleaning = undefined;
    });
    this.#cleaning = cleaning;
    return cleaning;
  }

  /** Ends the background cleanup. Idempotent; the store keeps working. */
  stopCleanup(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Stops the background cleanup and waits for a batch in flight, so the pool can be ended
   * afterwards. Never ends the pool.
   */
  async close(): Promise<void> {
    this.stopCleanup();
    this.#generation++;
    await this.#cleaning?.catch(() => {});
  }

  /** `await using store = new PostgresStore(pool)`: same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** One statement within the deadline, the table created first when needed. */
  #call(statement: PgQueryConfig, values: unknown[]): Promise<PgQueryResult> {
    const end = performance.now() + this.#deadline;
    const config: PgQueryConfig = { name: statement.name, text: statement.text, values };
    if (!this.#created) return this.#ensureTable(end).then(() => this.#retrying(config, end));
    // The first attempt without an async frame of its own: the common case stays cheap.
    return this.#attempt(config, end).catch((err: unknown) => this.#retrying(config, end, err));
  }

  #ensureTable(end: number): Promise<void> {
    if (this.#ready !== undefined) return this.#ready;
    const create = { text: this.#sql.create };
    const ready = this.#retrying(create, end)
      .catch((err: unknown) => {
        // Two app servers creating the table at once: the slower one can see a duplicate of
        // the table, its index or its row type. The other one has created it by then, so the
        // same IF NOT EXISTS statements, run again, find it (and add what is still missing).
        if (!DUPLICATE_ON_CREATE.has(sqlState(err instanceof SessionError ? err.cause : err))) {
          throw err;
        }
        return this.#retrying(create, end);
      })
      .then(
        () => {
          this.#created = true;
        },
        (err: unknown) => {
          this.#ready = undefined;
          throw err;
        },
      );
    this.#ready = ready;
    return ready;
  }

  /** Attempts until one succeeds, an error is final or the deadline; `failed` is a first attempt's error. */
  async #retrying(config: PgQueryConfig, end: number, failed?: unknown): Promise<PgQueryResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (attempt === 1 && failed !== undefined) throw failed;
        return await this.#attempt(config, end);
      } catch (err) {
        const kind = err === DEADLINE ? "down" : classify(err);
        if (kind === "sql") {
          throw new SessionError(`postgres: ${(err as Error).message} (${sqlState(err)})`, {
            cause: err,
          });
        }
        const wait =
          Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        if (kind === "down" || performance.now() + wait >= end) {
          const why = err === DEADLINE ? "no answer" : describe(err);
          throw new StoreUnavailableError(
            `postgres unavailable: ${why} (${attempt} attempt${attempt === 1 ? "" : "s"} within the ${this.#deadline} ms deadline)`,
            { cause: err === DEADLINE ? undefined : err },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /**
   * One connect + query, bounded by `end`. At the deadline a connection still waiting for its
   * answer is released with an error, so the pool closes it rather than reusing it.
   */
  #attempt(config: PgQueryConfig, end: number): Promise<PgQueryResult> {
    return new Promise((resolve, reject) => {
      let client: PgPoolClient | undefined;
      let settled = false;
      // Request-scoped and bounded by the deadline: it holds the process like the request does.
      const timer = setTimeout(
        () => {
          settled = true;
          client?.release(new Error("scs-ts postgresstore: deadline passed"));
          reject(DEADLINE);
        },
        Math.max(0, end - performance.now()),
      );
      this.#pool.connect((err, c) => {
        if (err || c === undefined) {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(err ?? new Error("connect failed"));
          return;
        }
        if (settled) {
          c.release();
          return;
        }
        client = c;
        /** Ends the attempt once; a broken connection goes back with its error, so the pool drops it. */
        const finish = (failure: unknown, res?: PgQueryResult): void => {
          c.removeListener("error", finish);
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (failure === undefined) {
            c.release();
            resolve(res as PgQueryResult);
          } else {
            c.release(classify(failure) === "sql" ? undefined : (failure as Error));
            reject(failure);
          }
        };
        // pg reports a connection lost while checked out as an "error" event, thrown when
        // nobody listens; it can come in the same read as the end of the connect, which is why
        // this is the callback form of connect (pool.query listens the same way).
        c.once("error", finish);
        c.query(config).then(
          (res) => finish(undefined, res),
          (failure: unknown) => finish(failure ?? new Error("query failed")),
        );
      });
    });
  }
}

function nothing(): void {}

function firstData(res: PgQueryResult): Uint8Array | undefined {
  return (res.rows[0] as { data: Uint8Array } | undefined)?.data;
}

/** Rejection of an attempt that hit the deadline. */
const DEADLINE = Symbol("deadline");

function statements(parts: string[]): Statements {
  const t = quoted(parts);
  const index = `"${parts[parts.length - 1]}_expiry_idx"`;
  const prepared = (kind: string, text: string): PgQueryConfig => ({
    // One name per statement text: two stores on different tables never share a name.
    name: `scs_ts_${kind}_${createHash("sha256").update(text).digest("hex").slice(0, 16)}`,
    text,
  });
  return {
    find: prepared("find", `SELECT data FROM ${t} WHERE token = $1 AND expiry > $2`),
    commit: prepared(
      "commit",
      `INSERT INTO ${t} (token, data, expiry) VALUES ($1, $2, $3) ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`,
    ),
    delete: prepared("delete", `DELETE FROM ${t} WHERE token = $1`),
    page: prepared(
      "page",
      `SELECT token, data FROM ${t} WHERE token > $1 AND expiry > $2 ORDER BY token LIMIT ${BATCH}`,
    ),
    cleanup: prepared(
      "cleanup",
      `DELETE FROM ${t} WHERE token IN (SELECT token FROM ${t} WHERE expiry <= $1 LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)`,
    ),
    create: `CREATE TABLE IF NOT EXISTS ${t} (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL); CREATE INDEX IF NOT EXISTS ${index} ON ${t} (expiry)`,
  };
}

/** @returns the error's SQLSTATE, or "" when it has none. */
function sqlState(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : "";
}

function classify(err: unknown): Kind {
  const state = sqlState(err);
  if (state !== "") {
    if (RETRY_STATE.test(state)) return "retry";
    return DOWN_STATE.test(state) ? "down" : "sql";
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z_]+$/.test(code)) return "retry"; // a socket error
  const message = err instanceof Error ? err.message : "";
  return CONNECTION_MESSAGE.test(message) ? "retry" : "sql";
}

/** What a StoreUnavailableError says about its cause: a code or a fixed pg message, nothing else. */
function describe(err: unknown): string {
  const state = sqlState(err);
  if (state !== "") return `SQLSTATE ${state}`;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z_]+$/.test(code)) return code;
  const message = err instanceof Error ? err.message : "";
  return CONNECTION_MESSAGE.test(message) ? message : "connection failed";
}
