/**
 * RedisStore: one Redis key per session, its expiry kept by Redis itself (`SET ... PXAT`).
 * @module
 */
import { Buffer } from "node:buffer";
import { StoreUnavailableError } from "../errors.ts";
import type { IterableStore } from "../store.ts";
import { type RedisClientLike, type RedisOps, redisOps, type Written } from "./redis-clients.ts";
import { Deadlines } from "./redis-deadline.ts";
import { invalid } from "./sql-common.ts";

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * Put before each token to make its key (the same default as SCS's Go redisstore). `all()`
   * lists only keys under it.
   * @default "scs:session:"
   */
  prefix?: string;
  /**
   * Longest one call may take, in ms (each round trip of `all()` on its own); then it rejects
   * with {@link StoreUnavailableError} (503), also when the client is still reconnecting or the
   * server hangs.
   * @default 5_000
   */
  deadline?: number;
  /**
   * Replicas that must hold each write before it is acknowledged: every commit and delete is
   * followed by `WAIT waitReplicas <ms left of the deadline>` on the same connection, and
   * rejects with {@link StoreUnavailableError} when fewer replicas confirmed it in time. 0: a
   * write is acknowledged once the primary has it (Redis replicates asynchronously, so a primary
   * that dies may take the last writes with it). See the README's "RedisStore" section for what
   * each setting keeps in a failover, measured.
   * @default 0
   */
  waitReplicas?: number;
  /**
   * Keys per `SCAN` page (its `COUNT` hint) and per `MGET` in `all()`.
   * @default 1000
   */
  scanCount?: number;
}

/** What a WAIT leaves of the deadline at least, ms, for its answer to come back before it. */
const WAIT_MARGIN_MS = 250;
/** UTF-8 cannot keep lone surrogates apart: two such tokens would share a key. */
const UNSTORABLE = /[\uD800-\uDFFF]/u;
/** Glob metacharacters of SCAN's MATCH, escaped so the prefix matches only itself. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\^-]/g, "\\$&");
}

/**
 * A session store on Redis (or Valkey), through your ioredis (5, 6), iovalkey or node-redis
 * (5, 6) client, plain or through its Sentinel support.
 *
 * Each session is one string key, `prefix + token`, holding the data bytes exactly, written
 * with `SET key data PXAT expiry`: Redis expires it itself, so there is no cleanup timer, and
 * an expired key is never found. Each write (commit or delete) runs as a short Lua script that
 * first compares Redis's clock with the write's deadline and changes nothing once it has passed. An expiry already passed deletes the key. `all()` walks the
 * keys with `SCAN` and reads them with `MGET`, page by page, never with `KEYS`.
 *
 * **Clock.** Redis compares the expiry and each write's deadline with its own clock; keep the
 * app servers' and Redis's clocks in sync (NTP).
 *
 * **Failures.** Any error of the client or of Redis (a refused or closed connection, a server
 * that does not answer within `deadline`, an error reply such as `READONLY` during a failover)
 * rejects with {@link StoreUnavailableError} (503). The client's error is its `cause`, with the
 * command's arguments (the key, so the token) taken out; the message names only the error code.
 * The client reconnects on its own; the store never retries. A write the client still holds at
 * the deadline (queued while reconnecting, re-sent after a failover) and delivers later changes
 * nothing, so it cannot undo newer writes or bring back a deleted session.
 *
 * **Durability.** See `waitReplicas`. A Redis without replicas keeps what its persistence
 * settings keep (`appendfsync` and the like): the store adds nothing and takes nothing away.
 *
 * The client is yours: `close()` never quits it.
 *
 * @example
 * import Redis from "ioredis";
 * const store = new RedisStore(new Redis(process.env.REDIS_URL), { prefix: "scs:session:" });
 *
 * @example
 * import { createClient } from "redis";
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const store = new RedisStore(client);
 */
export class RedisStore implements IterableStore {
  readonly #ops: RedisOps;
  readonly #prefix: string;
  readonly #deadlines: Deadlines;
  readonly #replicas: number;
  readonly #scanCount: number;

  /**
   * @param client - an ioredis, iovalkey or node-redis v5 client (or Sentinel client), yours.
   * @param options - see {@link RedisStoreOptions}.
   * @throws TypeError naming the option and value when the client or an option is invalid.
   */
  constructor(client: RedisClientLike, options: RedisStoreOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`options is invalid: ${String(options)} (expected an object)`);
    }
    const ops = redisOps(client);
    if (ops === undefined) {
      throw new TypeError(
        `client is invalid: ${describeValue(client)} (expected an ioredis, iovalkey or node-redis v5 client)`,
      );
    }
    const {
      prefix = "scs:session:",
      deadline = 5_000,
      waitReplicas = 0,
      scanCount = 1000,
    } = options;
    if (typeof prefix !== "string" || UNSTORABLE.test(prefix)) {
      throw invalid("prefix", prefix, "a string");
    }
    if (typeof deadline !== "number" || !(deadline > 0 && deadline <= 2_147_483_647)) {
      throw invalid("deadline", deadline, "a positive number of milliseconds");
    }
    if (!Number.isSafeInteger(waitReplicas) || waitReplicas < 0) {
      throw invalid("waitReplicas", waitReplicas, "a whole number of replicas, 0 or more");
    }
    if (!Number.isSafeInteger(scanCount) || scanCount < 1 || scanCount > 1_000_000) {
      throw invalid("scanCount", scanCount, "a whole number from 1 to 1000000");
    }
    this.#ops = ops;
    this.#prefix = prefix;
    this.#deadlines = new Deadlines(deadline);
    this.#replicas = waitReplicas;
    this.#scanCount = scanCount;
  }

  /** The key prefix in use. */
  get prefix(): string {
    return this.#prefix;
  }

  /** Data for a token, or `undefined` when missing or expired. */
  find(token: string): Promise<Uint8Array | undefined> {
    if (UNSTORABLE.test(token)) return Promise.resolve(undefined);
    const key = this.#prefix + token;
    return this.#deadlines.track(() => this.#ops.get(key), orUndefined);
  }

  /**
   * Writes the token's data with its expiry (`SET key data PXAT expiry`, unless Redis's clock
   * is past the call's deadline), replacing what was there; an expiry already passed (or an
   * invalid Date) deletes the key instead.
   * @throws (rejects with) TypeError for a token holding a lone surrogate (UTF-8 cannot keep it).
   */
  commit(token: string, data: Uint8Array, expiry: Date): Promise<void> {
    if (UNSTORABLE.test(token)) {
      return Promise.reject(
        new TypeError("token holds a lone surrogate: a Redis key (UTF-8) cannot store it"),
      );
    }
    const key = this.#prefix + token;
    const at = expiry.getTime();
    // PXAT wants a positive integer; a time already passed is a delete (Redis would do the same).
    if (!(at > Date.now())) return this.#delete(key);
    const value = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const ms = Math.ceil(at);
    const notAfter = this.#notAfter();
    const n = this.#replicas;
    if (n === 0) {
      return this.#deadlines.track(() => this.#ops.set(key, value, ms, notAfter), this.#check);
    }
    const timeout = waitTimeout(this.#deadlines.deadline);
    return this.#deadlines.track(
      () => this.#ops.setWait(key, value, ms, notAfter, n, timeout),
      this.#check,
    );
  }

  /** Removes the token; a missing token is a no-op. */
  delete(token: string): Promise<void> {
    if (UNSTORABLE.test(token)) return Promise.resolve();
    return this.#delete(this.#prefix + token);
  }

  /**
   * Every unexpired session under the prefix, keyed by token: `SCAN` pages of `scanCount` keys,
   * each read with one `MGET` (keys that expire meanwhile are left out). Each round trip has its
   * own deadline.
   */
  async all(): Promise<Map<string, Uint8Array>> {
    const full = this.#ops.clientPrefix + this.#prefix;
    const pattern = `${globEscape(full)}*`;
    const strip = this.#ops.clientPrefix.length;
    const out = new Map<string, Uint8Array>();
    let cursor = "0";
    do {
      const at = cursor;
      const [next, found] = await this.#deadlines.track(
        () => this.#ops.scan(at, pattern, this.#scanCount),
        same<[string, string[]]>,
      );
      cursor = next;
      const keys = found.filter((k) => k.startsWith(full)).map((k) => k.slice(strip));
      for (let i = 0; i < keys.length; i += this.#scanCount) {
        const batch = keys.slice(i, i + this.#scanCount);
        const values = await this.#deadlines.track(
          () => this.#ops.mget(batch),
          same<(Buffer | null)[]>,
        );
        for (const [j, value] of values.entries()) {
          if (value !== null && value !== undefined) {
            out.set((batch[j] as string).slice(this.#prefix.length), value);
          }
        }
      }
    } while (cursor !== "0");
    return out;
  }

  /**
   * Waits for the calls in flight to settle, so the client can be quit afterwards. Never quits
   * or disconnects the client; the store keeps working.
   */
  close(): Promise<void> {
    return this.#deadlines.idle();
  }

  /** `await using store = new RedisStore(client)`: same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #delete(key: string): Promise<void> {
    const notAfter = this.#notAfter();
    const n = this.#replicas;
    if (n === 0) return this.#deadlines.track(() => this.#ops.del(key, notAfter), this.#check);
    const timeout = waitTimeout(this.#deadlines.deadline);
    return this.#deadlines.track(() => this.#ops.delWait(key, notAfter, n, timeout), this.#check);
  }

  /**
   * The last moment, by Redis's clock (ms since the epoch), a write issued now may still change
   * Redis: its deadline. The store answers 503 at the deadline at the earliest, so a write the
   * client still delivers later (queued while reconnecting, re-sent after a failover, stuck in
   * a socket) can never land after newer writes were acknowledged.
   */
  #notAfter(): number {
    return Date.now() + this.#deadlines.deadline;
  }

  /** Throws StoreUnavailableError for a write Redis refused as late or too few replicas confirmed. */
  readonly #check = (w: Written): void => {
    const deadline = this.#deadlines.deadline;
    if (!w.applied) {
      throw new StoreUnavailableError(
        `redis: the write reached Redis after its ${deadline} ms deadline (by Redis's clock) and was not applied; keep the clocks of the app servers and Redis in sync`,
      );
    }
    if (w.replicas < this.#replicas) {
      throw new StoreUnavailableError(
        `redis: the write reached ${w.replicas} of the ${this.#replicas} replica${this.#replicas === 1 ? "" : "s"} required within the ${deadline} ms deadline (waitReplicas)`,
      );
    }
  };
}

function same<T>(reply: T): T {
  return reply;
}

function orUndefined(value: Buffer | null): Uint8Array | undefined {
  return value ?? undefined;
}

/**
 * WAIT's own timeout: what is left of the deadline less a margin (a fifth of it, at least
 * 250 ms, at most half), so that its answer, with the replica count, arrives before the deadline.
 */
function waitTimeout(left: number): number {
  const margin = Math.min(left / 2, Math.max(WAIT_MARGIN_MS, left / 5));
  return Math.max(1, Math.floor(left - margin));
}

/** A short description of a bad client option, without its contents. */
function describeValue(value: unknown): string {
  if (value === null || typeof value !== "object") return String(value);
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "" ? `a ${name}` : "an object";
}
