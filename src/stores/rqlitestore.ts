/**
 * RqliteStore: sessions in rqlite (SQLite replicated with Raft), SCS's `rqlitestore` schema.
 * @module
 */
import { Buffer } from "node:buffer";
import { StoreUnavailableError } from "../errors.ts";
import type { IterableStore } from "../store.ts";
import { cleanupHandler } from "./cleanup-handler.ts";
import { type QueryOptions, type ReadConsistency, RqliteConnection } from "./rqlite-client.ts";
import { BATCH, type StoreSql, storeSql, TOMBSTONE } from "./rqlite-sql.ts";

/** Options of {@link RqliteStore}. */
export interface RqliteStoreOptions {
  /**
   * How often expired rows are deleted, in ms; 0 turns background cleanup off (expired rows
   * are still never returned).
   * @default 300_000
   */
  cleanupInterval?: number;
  /**
   * Table name: a plain SQL identifier (letters, digits, `_`; not starting with a digit or `sqlite_`).
   * @default "sessions"
   */
  table?: string;
  /**
   * Run `CREATE TABLE/INDEX IF NOT EXISTS` once, before the first statement.
   * @default true
   */
  createTable?: boolean;
  /**
   * Read consistency of `find` and `all`. `weak` sees every acknowledged write; `none` reads
   * the local node and may miss a write another app server just made (stale sessions, e.g. a
   * sign-out that does not show yet); `linearizable`/`strong` cost a quorum round trip.
   * @default "weak"
   */
  readConsistency?: ReadConsistency;
  /** With `readConsistency: "none"`: how stale the node may be, e.g. `"1s"`. */
  freshness?: string;
  /**
   * Longest time, in ms, that `find` and `all` read at `strong` after a sign that the cluster
   * may be recovering (a failed or retried request, a change of the node that answers, a node
   * still replaying its log; and the store's first reads), until one `strong` read confirms the
   * leader has applied every committed write. A new rqlite leader, or a cluster restarted on
   * its data, can answer `weak` reads before that, and a session read one write behind would
   * be written back over the newer one. 0 turns it off (reads always at `readConsistency`).
   * @default 10_000
   */
  recoveryWindow?: number;
  /**
   * Queued writes: rqlite acknowledges commits and deletes before they are durable, so a crash
   * can lose them (a sign-out that comes back). Faster; off by default.
   * @default false
   */
  queue?: boolean;
  /**
   * Versioned writes, in `<table>_versions` beside the session table (SCS's table is
   * unchanged): each commit records when it was issued and changes the row only if it is the
   * token's newest write, and a delete leaves a tombstone. A write that timed out and is
   * applied later — after the retry succeeded and newer writes or a sign-out (destroy, or
   * renewToken's delete of the old token) were acknowledged — then changes nothing: no
   * acknowledged write is undone, no signed-out session comes back. Costs a second statement
   * per commit and one row per session (see the README's figures). Off: SCS's plain upsert and
   * delete.
   * @default true
   */
  versions?: boolean;
  /**
   * Shortest time, in ms, a tombstone is kept; it is kept at least until the deleted row's own
   * expiry. Covers commits still in flight when the token was deleted, whose expiry may be
   * later than the row's: it should exceed the longest a write can be delayed, and ideally the
   * sessions' lifetime.
   * @default 86_400_000 (24 h, SCS's default lifetime)
   */
  tombstoneLifetime?: number;
  /** The clock, in ms since the epoch (tests inject a fake one). @default Date.now */
  now?: () => number;
  /** Told about background failures (cleanup; a handler that throws or rejects is logged). @default console.error without details that could hold data */
  onError?: (err: unknown) => void;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const LEVELS: readonly ReadConsistency[] = ["none", "weak", "linearizable", "strong"];

/** ms since the epoch → Julian day, the unit of SCS's `expiry REAL` column. */
export function julianDay(ms: number): number {
  return ms / 86_400_000 + 2_440_587.5;
}

/** A row's `data` cell → bytes: BLOBs arrive base64; SCS's Go store wrote hex text. */
function toBytes(cell: unknown, type: unknown): Uint8Array {
  const text = typeof cell === "string" ? cell : "";
  return new Uint8Array(Buffer.from(text, type === "blob" ? "base64" : "hex"));
}

/**
 * A session store on rqlite, with SCS's table:
 * `sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)` plus an index on
 * `expiry` (a Julian day). Every statement is parameterised and keyed on the token, so the
 * connection may safely retry it on another node.
 *
 * @example
 * const store = new RqliteStore(["http://127.0.0.1:4001", "http://127.0.0.1:4002"]);
 * const sessions = new SessionManager({ store });
 */
export class RqliteStore implements IterableStore {
  readonly #conn: RqliteConnection;
  /** Read options; `schemaKnown` turns true once the table is known to exist. */
  readonly #readOptions: QueryOptions;
  /** Options of every write, built once: `queue` only when opted in. */
  readonly #writeOptions: { queue: boolean };
  /** Options of a versioned commit: two statements, one transaction (or queued). */
  readonly #versionedWrite: { queue: boolean; transaction: boolean };
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  readonly #sql: StoreSql;
  readonly #versions: boolean;
  readonly #tombstoneLifetime: number;
  #ready: Promise<void> | undefined;
  /** True once the table is known to exist: calls then skip the await on {@link #ready}. */
  #created = false;
  #timer: NodeJS.Timeout | undefined;
  #cleaning = false;

  /**
   * @param conn - an {@link RqliteConnection}, or node URL(s) to make one from.
   * @param options - see {@link RqliteStoreOptions}.
   */
  constructor(
    conn: RqliteConnection | string | readonly string[],
    options: RqliteStoreOptions = {},
  ) {
    this.#conn = conn instanceof RqliteConnection ? conn : new RqliteConnection({ nodes: conn });
    const table = options.table ?? "sessions";
    if (typeof table !== "string" || !IDENTIFIER.test(table) || /^sqlite_/i.test(table)) {
      throw new TypeError(
        `option table is invalid: ${JSON.stringify(table)} (a plain SQL identifier)`,
      );
    }
    const level = options.readConsistency ?? "weak";
    if (!LEVELS.includes(level))
      throw new TypeError(`option readConsistency is invalid: ${String(level)}`);
    const recoveryWindow = options.recoveryWindow ?? 10_000;
    if (
      typeof recoveryWindow !== "number" ||
      !Number.isFinite(recoveryWindow) ||
      recoveryWindow < 0
    ) {
      throw new TypeError(`option recoveryWindow is invalid: ${String(recoveryWindow)}`);
    }
    const interval = options.cleanupInterval ?? 300_000;
    if (typeof interval !== "number" || !Number.isFinite(interval) || interval < 0) {
      throw new TypeError(`option cleanupInterval is invalid: ${String(interval)}`);
    }
    const lifetime = options.tombstoneLifetime ?? 86_400_000;
    if (typeof lifetime !== "number" || !Number.isFinite(lifetime) || lifetime < 0) {
      throw new TypeError(`option tombstoneLifetime is invalid: ${String(lifetime)}`);
    }
    const versions = options.versions ?? true;
    if (typeof versions !== "boolean") {
      throw new TypeError(`option versions is invalid: ${String(versions)} (a boolean)`);
    }
    this.#versions = versions;
    this.#tombstoneLifetime = lifetime;
    this.#readOptions = { level, recoveryWindow, schemaKnown: false };
    if (options.freshness !== undefined) this.#readOptions.freshness = options.freshness;
    this.#writeOptions = { queue: options.queue === true };
    this.#versionedWrite = { queue: options.queue === true, transaction: true };
    this.#now = options.now ?? Date.now;
    this.#onError = cleanupHandler("rqlitestore", options.onError ?? defaultOnError);
    this.#sql = storeSql(table, versions);
    if (options.createTable === false) this.#created = true;
    if (interval > 0) {
      this.#timer = setInterval(() => void this.deleteExpired().catch(this.#onError), interval);
      this.#timer.unref();
    }
  }

  /** The connection this store talks through. */
  get connection(): RqliteConnection {
    return this.#conn;
  }

  /** Data for a token, or `undefined` when missing or expired. */
  async find(token: string): Promise<Uint8Array | undefined> {
    if (!this.#created) await this.#ensureTable();
    const [res] = await this.#conn.query(
      [[this.#sql.find, token, julianDay(this.#now())]],
      this.#readOptions,
    );
    this.#readOptions.schemaKnown = true;
    const row = res?.values[0];
    return row ? toBytes(row[0], row[1]) : undefined;
  }

  /**
   * Inserts or replaces the token's data and expiry. With versions (the default) the write
   * counts as issued now: if the token has a newer write (another app server's clock is ahead)
   * it is issued again just after that one, so an acknowledged commit is always applied; a
   * deleted token stays deleted (the call resolves, nothing is written).
   */
  async commit(token: string, data: Uint8Array, expiry: Date): Promise<void> {
    if (!this.#created) await this.#ensureTable();
    const hex = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
    const day = julianDay(expiry.getTime());
    let at = this.#now();
    for (let round = 0; ; round++) {
      const [claimed] = await this.#conn.execute(
        this.#sql.commit(token, hex, day, at),
        this.#versions ? this.#versionedWrite : this.#writeOptions,
      );
      this.#readOptions.schemaKnown = true;
      // Applied, unversioned, or queued (a queued write reports nothing).
      if (!this.#versions || claimed === undefined || claimed.rowsAffected > 0) return;
      const [res] = await this.#conn.query([[this.#sql.version, token]], { level: "strong" });
      const stored = Number(res?.values[0]?.[0]);
      if (!(stored < TOMBSTONE)) return; // deleted: the token stays dead
      if (round >= 4) {
        throw new StoreUnavailableError(
          "rqlite commit kept losing to newer writes of the same session",
        );
      }
      at = Math.max(at, stored) + 0.001;
    }
  }

  /**
   * Removes the token; a missing token is a no-op. With versions (the default) the token
   * also stays dead: a commit of it that arrives later changes nothing.
   */
  async delete(token: string): Promise<void> {
    if (!this.#created) await this.#ensureTable();
    const until = julianDay(this.#now() + this.#tombstoneLifetime);
    const statements = this.#sql.delete(token, until);
    await this.#conn.execute(
      statements,
      statements.length > 1 ? { ...this.#writeOptions, transaction: true } : this.#writeOptions,
    );
  }

  /** Every unexpired session, read in pages of 1000 rows in token order. */
  async all(): Promise<Map<string, Uint8Array>> {
    if (!this.#created) await this.#ensureTable();
    const now = julianDay(this.#now());
    const out = new Map<string, Uint8Array>();
    let after = "";
    for (;;) {
      const [res] = await this.#conn.query([[this.#sql.page, after, now]], this.#readOptions);
      this.#readOptions.schemaKnown = true;
      const rows = res?.values ?? [];
      for (const row of rows) out.set(String(row[0]), toBytes(row[1], row[2]));
      if (rows.length < BATCH) return out;
      after = String(rows[rows.length - 1]?.[0]);
    }
  }

  /**
   * Deletes expired rows in batches of 1000 until a batch deletes fewer; expired version rows
   * and tombstones go in the same requests. The background cleanup calls this; skipped while a previous run
   * is still going.
   * @returns the number of session rows deleted.
   */
  async deleteExpired(): Promise<number> {
    if (this.#cleaning) return 0;
    this.#cleaning = true;
    try {
      if (!this.#created) await this.#ensureTable();
      const now = julianDay(this.#now());
      let total = 0;
      for (;;) {
        const [res, tombs] = await this.#conn.execute(this.#sql.cleanup(now));
        const n = res?.rowsAffected ?? 0;
        total += n;
        if (n < BATCH && (tombs?.rowsAffected ?? 0) < BATCH) return total;
      }
    } finally {
      this.#cleaning = false;
    }
  }

  /** Ends the background cleanup. Idempotent. */
  stopCleanup(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops cleanup and releases the connection's sockets (it reopens them if used again). */
  async close(): Promise<void> {
    this.stopCleanup();
    await this.#conn.close();
  }

  /** `Symbol.asyncDispose`: same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Creates the table and index once, even under concurrent first calls; retried after a failure. */
  #ensureTable(): Promise<void> {
    if (this.#ready) return this.#ready;
    const ready = this.#conn.execute(this.#sql.schema, { transaction: true }).then(() => {
      this.#created = true;
      this.#readOptions.schemaKnown = true;
    });
    this.#ready = ready;
    ready.catch(() => {
      if (this.#ready === ready) this.#ready = undefined;
    });
    return ready;
  }
}

function defaultOnError(err: unknown): void {
  console.error("scs-ts rqlitestore: cleanup failed:", err instanceof Error ? err.message : err);
}
