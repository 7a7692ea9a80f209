/**
 * A small rqlite HTTP client: one keep-alive pool per node, failover across nodes, retries with
 * backoff inside an overall deadline, and rqlite's three ways of reporting errors.
 * @module
 */
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import { Pool } from "undici";
import { StoreUnavailableError } from "../errors.ts";
import {
  type Answer,
  describe,
  parseAnswer,
  type RawResult,
  RetryableError,
  readAnswer,
} from "./rqlite-answer.ts";
import { RqliteError, redactCredentials } from "./rqlite-errors.ts";
import { CAN_DISPATCH, fetchAnswer } from "./rqlite-fetch.ts";
import { RecoveryTracker } from "./rqlite-recovery.ts";

/** A value bound to a `?` placeholder. Bytes are bound as hex text and written with `unhex(?)`. */
export type SqlValue = string | number | boolean | null;

/** One parameterised statement: the SQL, then its parameters. Sent in the POST body, never in a URL. */
export type Statement = readonly [sql: string, ...params: SqlValue[]];

/**
 * rqlite read consistency. `weak` (the default) asks the leader, which reads its own SQLite;
 * `none` reads the local node (fast, may miss a just-acknowledged write); `linearizable` and
 * `strong` also confirm leadership with a quorum (slower).
 */
export type ReadConsistency = "none" | "weak" | "linearizable" | "strong";

/** The result of one write statement. */
export interface ExecuteResult {
  /** Rows changed; 0 when rqlite leaves it out. */
  rowsAffected: number;
}

/** The result of one query statement. BLOB columns come back as base64 strings. */
export interface QueryResult {
  columns: string[];
  /** One array per row; empty when rqlite leaves `values` out (no rows). */
  values: unknown[][];
}

/** Options of {@link RqliteConnection}. */
export interface RqliteConnectionOptions {
  /** Node URLs (`http://` or `https://`), e.g. every node of a cluster. Credentials in a URL are used as basic auth. */
  nodes: string | readonly string[];
  /** rqlite basic-auth user. */
  username?: string;
  /** rqlite basic-auth password. */
  password?: string;
  /**
   * Longest wait for one attempt on one node, in ms, from sending the request to the last byte
   * of the answer; an attempt also ends with the deadline. With more than one node an attempt
   * gets at most half the deadline, so a hung or trickling node leaves time to try another.
   * @default 10_000
   */
  timeout?: number;
  /**
   * Longest wait for one call overall (every attempt and backoff, reading the answer included),
   * in ms; then the call rejects with {@link StoreUnavailableError} and the socket of the
   * attempt in flight is destroyed.
   * @default 5_000
   */
  deadline?: number;
  /**
   * Most open sockets per node.
   * @default 128
   */
  connections?: number;
  /** TLS options for `https://` nodes (a private CA, client certificates). */
  tls?: Pick<ConnectionOptions, "ca" | "cert" | "key" | "rejectUnauthorized" | "servername">;
  /** The clock of the recovery window (see {@link QueryOptions.recoveryWindow}), in ms. @default Date.now */
  now?: () => number;
  /**
   * Local IP address the sockets to the nodes are bound to, e.g. `"10.0.0.5"` on a host with
   * several addresses (firewall rules or rqlite's network policy that match the app's address).
   * @default the operating system's choice
   */
  localAddress?: string;
}

/** Options of {@link RqliteConnection.execute}. */
export interface ExecuteOptions {
  /** Run the statements in one transaction (`?transaction`). @default false */
  transaction?: boolean;
  /**
   * Queued write (`?queue`): rqlite acknowledges before the write is durable and returns no
   * results. Not durable: an acknowledged write can be lost. @default false
   */
  queue?: boolean;
}

/** Options of {@link RqliteConnection.query}. */
export interface QueryOptions {
  /** @default "weak" */
  level?: ReadConsistency;
  /** With level `none`: the longest a node may be out of touch with the leader, e.g. `"1s"`. */
  freshness?: string;
  /**
   * After a sign that the cluster may be recovering (a failed attempt, a change of the node
   * that answers, a node that has not applied its log; and the connection's first use), read
   * at `strong` instead of `level` for up to this many ms, until one `strong` read that
   * started after that sign has succeeded: a new leader, or a cluster restarted on its data,
   * can answer `weak` reads before it has applied every committed write. 0 turns it off.
   * @default 0
   */
  recoveryWindow?: number;
  /**
   * The tables the statements read are known to exist: a `no such table`/`no such index`
   * answer then means the node has not applied the log yet, and is retried within the
   * deadline instead of rejecting at once. @default false
   */
  schemaKnown?: boolean;
}

/** How one call is sent: the path for steady state, and what may change per attempt. */
interface CallPlan {
  path: string;
  /** Reads only: the path of a `strong` read, used while the cluster may be recovering. */
  strongPath?: string;
  /** Reads only: the recovery window in ms (0: never switch to `strongPath`). */
  recoveryWindow?: number;
  /** The path reads at `strong` already. */
  strong?: boolean;
  schemaKnown?: boolean;
}

const STRONG_PATH = "/db/query?level=strong";
const BACKOFF_BASE = 25;
const BACKOFF_CAP = 1_000;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`option ${name} is invalid: ${String(value)} (a positive number of ms)`);
  }
  return value;
}

interface Node {
  origin: string;
  prefix: string;
  /** Display form, without credentials. */
  url: string;
}

/** A bad option's value as shown in its TypeError: never a URL's credentials. */
const shown = (value: unknown): string =>
  typeof value === "string"
    ? JSON.stringify(redactCredentials(value))
    : redactCredentials(String(value));

function parseNode(raw: string): { node: Node; user?: string; pass?: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`option nodes is invalid: ${shown(raw)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`option nodes is invalid: ${url.protocol} (http: or https: expected)`);
  }
  const prefix = url.pathname.replace(/\/+$/, "");
  const node = { origin: url.origin, prefix, url: url.origin + prefix };
  if (!url.username) return { node };
  try {
    return { node, user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
  } catch {
    throw new TypeError(
      `option nodes is invalid: ${node.url} has credentials that are not valid percent-encoding`,
    );
  }
}

function credential(name: string, value: unknown): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  // Not even the type's value: a password given as a number is still a password.
  throw new TypeError(`option ${name} is invalid: a ${typeof value} (a string expected)`);
}

/**
 * A connection to an rqlite node or cluster. Keeps one keep-alive socket pool per node and
 * sticks to the last node that answered. On a connection error, a timeout, a 5xx status or a
 * top-level `"error"` in a 200 answer it tries the next node at once; after a full round it
 * backs off (exponential, with jitter) and goes round again, until the deadline, then rejects
 * with {@link StoreUnavailableError}. A 4xx status or an SQL error rejects at once with
 * {@link RqliteError} ({@link RqliteAuthError} for 401/403), never retried.
 *
 * Retrying is sound because every statement scs-ts sends is keyed on the token and safe to
 * repeat (an upsert of the same row, a delete).
 *
 * @example
 * const conn = new RqliteConnection({ nodes: ["http://10.0.0.1:4001", "http://10.0.0.2:4001"] });
 * const [res] = await conn.query([["SELECT count(*) FROM sessions"]]);
 */
export class RqliteConnection {
  readonly #nodes: Node[];
  readonly #pools: (Pool | undefined)[];
  readonly #headers: Record<string, string>;
  readonly #timeout: number;
  readonly #deadline: number;
  readonly #connections: number;
  readonly #tls: RqliteConnectionOptions["tls"];
  readonly #recovery: RecoveryTracker;
  readonly #localAddress: string | undefined;
  /** What rqlite's answers must not carry into an error message: the credentials sent. */
  readonly #secrets: string[] = [];
  #current = 0;

  /** @param options - nodes, credentials and timing; see {@link RqliteConnectionOptions}. */
  constructor(options: RqliteConnectionOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`options is invalid: ${shown(options)}`);
    }
    const list = typeof options.nodes === "string" ? [options.nodes] : options.nodes;
    if (!Array.isArray(list) || list.length === 0) {
      const value = Array.isArray(list) ? "[]" : shown(options.nodes);
      throw new TypeError(`option nodes is invalid: ${value} (a URL or a non-empty list)`);
    }
    let user = credential("username", options.username);
    let pass = credential("password", options.password);
    this.#nodes = list.map((raw: unknown) => {
      if (typeof raw !== "string") {
        throw new TypeError(`option nodes is invalid: ${shown(raw)} (a URL string expected)`);
      }
      const parsed = parseNode(raw);
      if (user === undefined && parsed.user !== undefined) {
        user = parsed.user;
        pass = parsed.pass;
      }
      return parsed.node;
    });
    this.#pools = this.#nodes.map(() => undefined);
    this.#headers = { "content-type": "application/json" };
    if (user !== undefined) {
      const basic = Buffer.from(`${user}:${pass ?? ""}`).toString("base64");
      this.#headers.authorization = `Basic ${basic}`;
      this.#secrets.push(basic);
      if (pass) this.#secrets.push(pass);
    }
    this.#timeout = positive("timeout", options.timeout, 10_000);
    this.#deadline = positive("deadline", options.deadline, 5_000);
    this.#connections = Math.floor(positive("connections", options.connections, 128));
    this.#tls = options.tls;
    if (options.now !== undefined && typeof options.now !== "function") {
      throw new TypeError(`option now is invalid: ${String(options.now)} (a function)`);
    }
    this.#recovery = new RecoveryTracker(options.now ?? Date.now);
    const local = options.localAddress;
    if (local !== undefined && (typeof local !== "string" || isIP(local) === 0)) {
      throw new TypeError(`option localAddress is invalid: ${shown(local)} (an IP address)`);
    }
    this.#localAddress = local;
    if (!CAN_DISPATCH && local !== undefined) {
      throw new TypeError(
        "option localAddress is invalid here: this runtime's fetch cannot bind one",
      );
    }
  }

  /** The node URLs, without credentials. */
  get nodes(): readonly string[] {
    return this.#nodes.map((n) => n.url);
  }

  /** The node the next call tries first (the last one that answered). */
  get currentNode(): string {
    return (this.#nodes[this.#current] as Node).url;
  }

  /**
   * Time (from the `now` clock) of the last sign that the cluster may be recovering which no
   * `strong` read has confirmed since, or `undefined` when settled. Starts set: nothing is
   * known about the cluster before the first answer.
   */
  get unsettledSince(): number | undefined {
    return this.#recovery.unsettledSince;
  }

  /**
   * Runs write statements (`/db/execute`).
   * @returns one result per statement (an empty array for a queued write).
   * @throws StoreUnavailableError when no node answered within the deadline.
   * @throws RqliteError on a refused request or an SQL error.
   */
  async execute(
    statements: readonly Statement[],
    options: ExecuteOptions = {},
  ): Promise<ExecuteResult[]> {
    let path = "/db/execute";
    if (options.queue) path += "?queue";
    else if (options.transaction) path += "?transaction";
    const results = await this.#call({ path }, JSON.stringify(statements));
    return results.map((r) => ({
      rowsAffected: typeof r.rows_affected === "number" ? r.rows_affected : 0,
    }));
  }

  /**
   * Runs read statements (`/db/query`) at the given consistency level.
   * @returns one result per statement.
   * @throws StoreUnavailableError when no node answered within the deadline.
   * @throws RqliteError on a refused request or an SQL error.
   */
  async query(
    statements: readonly Statement[],
    options: QueryOptions = {},
  ): Promise<QueryResult[]> {
    const level = options.level ?? "weak";
    let path = `/db/query?level=${level}`;
    if (options.freshness !== undefined)
      path += `&freshness=${encodeURIComponent(options.freshness)}`;
    const plan: CallPlan = {
      path,
      strongPath: STRONG_PATH,
      recoveryWindow: options.recoveryWindow ?? 0,
      strong: level === "strong",
      schemaKnown: options.schemaKnown === true,
    };
    const results = await this.#call(plan, JSON.stringify(statements));
    return results.map((r) => ({
      columns: Array.isArray(r.columns) ? (r.columns as string[]) : [],
      values: Array.isArray(r.values) ? (r.values as unknown[][]) : [],
    }));
  }

  /**
   * Releases every socket (waits for requests in flight). The connection stays usable: a
   * later call opens new sockets.
   */
  async close(): Promise<void> {
    const pools = this.#pools.splice(0, this.#pools.length, ...this.#pools.map(() => undefined));
    await Promise.all(pools.map((p) => p?.close()));
  }

  /** `Symbol.asyncDispose`: same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #call(plan: CallPlan, body: string): Promise<RawResult[]> {
    const end = Date.now() + this.#deadline;
    const n = this.#nodes.length;
    const cap = this.#attemptCap;
    let attempts = 0;
    let lastError: unknown;
    for (let round = 0; ; round++) {
      const first = this.#current;
      for (let i = 0; i < n; i++) {
        const remaining = end - Date.now();
        if (remaining <= 0) break;
        const index = (first + i) % n;
        attempts++;
        // Chosen per attempt: a failure on the way switches the retry to a strong read.
        const recovering =
          plan.strongPath !== undefined && this.#recovery.recovering(plan.recoveryWindow ?? 0);
        const strong = plan.strong === true || recovering;
        const path = recovering ? (plan.strongPath as string) : plan.path;
        const mark = this.#recovery.mark;
        const budget = Math.min(cap, remaining);
        try {
          const results = await this.#attempt(index, path, body, budget, plan.schemaKnown === true);
          this.#recovery.answered(index, strong ? mark : undefined);
          this.#current = index;
          return results;
        } catch (err) {
          if (err instanceof RqliteError) throw err;
          this.#recovery.disturbed();
          // An attempt cut short by the call's own deadline says less than the failure before it.
          if (lastError === undefined || budget < remaining) lastError = err;
          // Later calls should not start with a node that just failed.
          if (this.#current === index) this.#current = (index + 1) % n;
        }
      }
      const remaining = end - Date.now();
      if (remaining <= 0) break;
      const backoff = Math.min(BACKOFF_CAP, BACKOFF_BASE * 2 ** round);
      // Request-scoped and bounded by the deadline: it must hold the process like the request does.
      await new Promise((r) =>
        setTimeout(r, Math.min(remaining, backoff * (0.5 + Math.random() / 2))),
      );
    }
    throw new StoreUnavailableError(
      `rqlite unavailable: no node answered within ${this.#deadline} ms (${attempts} attempts on ${n} nodes)`,
      { cause: lastError },
    );
  }

  /** Longest one attempt may take: `timeout`, and with more than one node at most half the deadline. */
  get #attemptCap(): number {
    const cap =
      this.#nodes.length > 1 ? Math.min(this.#timeout, this.#deadline / 2) : this.#timeout;
    return Math.min(cap, this.#deadline);
  }

  #pool(index: number): Pool {
    let pool = this.#pools[index];
    if (!pool) {
      const node = this.#nodes[index] as Node;
      pool = new Pool(node.origin, {
        connections: this.#connections,
        pipelining: 1,
        connect: { timeout: this.#attemptCap, ...this.#tls },
        ...(this.#localAddress === undefined ? {} : { localAddress: this.#localAddress }),
        // Off: readAnswer's one timer bounds the whole attempt. These two are idle timers that
        // a trickling node resets with every chunk, so they bounded nothing and cost a timer each.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.#pools[index] = pool;
    }
    return pool;
  }

  async #attempt(
    index: number,
    path: string,
    body: string,
    timeout: number,
    schemaKnown: boolean,
  ): Promise<RawResult[]> {
    const node = this.#nodes[index] as Node;
    // One timer bounds the attempt from dispatch to the answer's last byte: the deadline holds
    // even against a node that sends its headers and then trickles the body.
    const ms = Math.max(1, Math.ceil(timeout));
    let answer: Answer;
    try {
      answer = CAN_DISPATCH
        ? await readAnswer(
            this.#pool(index),
            { method: "POST", path: node.prefix + path, headers: this.#headers, body },
            ms,
          )
        : await fetchAnswer(node.origin + node.prefix + path, this.#headers, body, ms, this.#tls);
    } catch (err) {
      throw new RetryableError(`${node.url}: ${describe(err)}`, { cause: err });
    }
    return parseAnswer(answer.status, answer.text, node.url, schemaKnown, this.#secrets);
  }
}
