/**
 * The Redis clients RedisStore drives, told apart by shape (no client library is imported):
 * ioredis and iovalkey (`getBuffer`, `mgetBuffer`, `pipeline`), and node-redis v5
 * (`withTypeMapping`, `multi`), each as a plain client or through its Sentinel support. Both
 * are reduced to the few calls the store makes, on Buffers.
 * @module
 */
import { Buffer } from "node:buffer";

/** Any function: the clients' overloaded methods all fit, and no client type is imported. */
type AnyMethod = (...args: never[]) => unknown;

/**
 * An ioredis or iovalkey client (`new Redis(...)`, also with `sentinels`), as RedisStore
 * recognises it: the methods it calls.
 */
export interface IoredisLike {
  getBuffer: AnyMethod;
  mgetBuffer: AnyMethod;
  eval: AnyMethod;
  scan: AnyMethod;
  pipeline: AnyMethod;
  /** ioredis's options; a `keyPrefix` there is added by the client itself. */
  readonly options?: { readonly keyPrefix?: string };
}

/**
 * A node-redis v5 client (`createClient(...)`, or `createSentinel(...)`), as RedisStore
 * recognises it: the methods it calls.
 */
export interface NodeRedisLike {
  withTypeMapping: AnyMethod;
  get: AnyMethod;
  mGet: AnyMethod;
  eval: AnyMethod;
  scan: AnyMethod;
  multi: AnyMethod;
}

/** A client RedisStore takes: ioredis, iovalkey or node-redis v5, opened by you. */
export type RedisClientLike = IoredisLike | NodeRedisLike;

/** What a write did: whether Redis applied it, and how many replicas confirmed it (WAIT). */
export interface Written {
  /** False when the write reached Redis after its `notAfter`: Redis left the key alone. */
  readonly applied: boolean;
  /** Replicas that acknowledged it; 0 without WAIT. */
  readonly replicas: number;
}

/**
 * The calls RedisStore makes, the same for every client. Keys are full keys (prefix included).
 * Every write carries `notAfter` (ms since the epoch) and runs as a script that first reads
 * Redis's own clock: a write that reaches Redis later than that changes nothing.
 */
export interface RedisOps {
  /** "ioredis" (also iovalkey) or "node-redis". */
  readonly kind: "ioredis" | "node-redis";
  /** The prefix the client adds on its own (ioredis `keyPrefix`): SCAN sees it, commands must not. */
  readonly clientPrefix: string;
  get(key: string): Promise<Buffer | null>;
  /** `SET key value PXAT at` unless Redis's clock is past `notAfter`. */
  set(key: string, value: Buffer, at: number, notAfter: number): Promise<Written>;
  /** `DEL key` unless Redis's clock is past `notAfter`. */
  del(key: string, notAfter: number): Promise<Written>;
  /** {@link RedisOps.set} then `WAIT replicas timeout` on the same connection. */
  setWait(
    key: string,
    value: Buffer,
    at: number,
    notAfter: number,
    replicas: number,
    timeout: number,
  ): Promise<Written>;
  /** {@link RedisOps.del} then `WAIT` on the same connection. */
  delWait(key: string, notAfter: number, replicas: number, timeout: number): Promise<Written>;
  /** `SCAN cursor MATCH pattern COUNT count`. @returns the next cursor ("0" at the end) and keys. */
  scan(cursor: string, pattern: string, count: number): Promise<[string, string[]]>;
  mget(keys: string[]): Promise<(Buffer | null)[]>;
}

/** Lua: `now`, Redis's clock in ms. TIME is allowed before a write (effects replication, Redis >= 5). */
const NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)";

/** KEYS[1] = key; ARGV = value, PXAT ms, not-after ms. @returns 1 when written, 0 when late. */
export const SET_SCRIPT = `${NOW} if now > tonumber(ARGV[3]) then return 0 end redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2]) return 1`;

/** KEYS[1] = key; ARGV = not-after ms. @returns 1 when deleted (or missing), 0 when late. */
export const DEL_SCRIPT = `${NOW} if now > tonumber(ARGV[1]) then return 0 end redis.call('DEL', KEYS[1]) return 1`;

/** node-redis's RESP type code of bulk strings (RESP_TYPES.BLOB_STRING). */
const BLOB_STRING = 36;

type Fn<A extends unknown[], R> = (...args: A) => R;

/** ioredis pipeline results: `[error, reply]` per command. */
type PipelineResult = [Error | null, unknown][] | null;

/** Arguments of ioredis's `eval(script, numKeys, ...keysAndArgs)`. */
type IoredisEval = [string, 1, string, ...(Buffer | number)[]];

interface IoredisPipeline {
  eval(...args: IoredisEval): IoredisPipeline;
  wait(replicas: number, timeout: number): IoredisPipeline;
  exec(): Promise<PipelineResult>;
}

interface IoredisCalls {
  getBuffer: Fn<[string], Promise<Buffer | null>>;
  mgetBuffer: Fn<[string[]], Promise<(Buffer | null)[]>>;
  eval: Fn<IoredisEval, Promise<unknown>>;
  scan: Fn<[string, "MATCH", string, "COUNT", number], Promise<[string, string[]]>>;
  pipeline: Fn<[], IoredisPipeline>;
  options?: { keyPrefix?: unknown };
}

/** node-redis's `eval(script, { keys, arguments })` options. */
interface NodeRedisEval {
  keys: string[];
  arguments: (Buffer | string)[];
}

interface NodeRedisMulti {
  eval(script: string, options: NodeRedisEval): this;
  wait(replicas: number, timeout: number): this;
  execAsPipeline(): Promise<unknown[]>;
}

interface NodeRedisCalls {
  withTypeMapping: Fn<[Record<number, unknown>], NodeRedisCalls>;
  get: Fn<[string], Promise<Buffer | null>>;
  mGet: Fn<[string[]], Promise<(Buffer | null)[]>>;
  eval: Fn<[string, NodeRedisEval], Promise<unknown>>;
  scan: Fn<
    [string, { MATCH: string; COUNT: number }],
    Promise<{ cursor: string | number; keys: string[] }>
  >;
  multi: Fn<[], NodeRedisMulti>;
}

const has = (client: object, names: readonly string[]): boolean =>
  names.every((n) => typeof (client as Record<string, unknown>)[n] === "function");

/** The number a reply holds (RESP integers; some clients give strings). */
function replyNumber(reply: unknown): number {
  return typeof reply === "number" ? reply : Number(reply);
}

/** A script's reply (1 applied, 0 late) and, when WAIT followed it, the replica count. */
function written(script: unknown, wait?: unknown): Written {
  return {
    applied: replyNumber(script) === 1,
    replicas: wait === undefined ? 0 : replyNumber(wait),
  };
}

function fromIoredis(c: IoredisCalls): RedisOps {
  const prefix = c.options?.keyPrefix;
  const pipelined = async (p: IoredisPipeline): Promise<Written> => {
    const results = (await p.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    return written(results[0]?.[1], results[1]?.[1]);
  };
  const setArgs = (key: string, value: Buffer, at: number, notAfter: number): IoredisEval => [
    SET_SCRIPT,
    1,
    key,
    value,
    at,
    notAfter,
  ];
  const delArgs = (key: string, notAfter: number): IoredisEval => [DEL_SCRIPT, 1, key, notAfter];
  return {
    kind: "ioredis",
    clientPrefix: typeof prefix === "string" ? prefix : "",
    get: (key) => c.getBuffer(key),
    set: (key, value, at, notAfter) => c.eval(...setArgs(key, value, at, notAfter)).then(written),
    del: (key, notAfter) => c.eval(...delArgs(key, notAfter)).then(written),
    setWait: (key, value, at, notAfter, n, timeout) =>
      pipelined(
        c
          .pipeline()
          .eval(...setArgs(key, value, at, notAfter))
          .wait(n, timeout),
      ),
    delWait: (key, notAfter, n, timeout) =>
      pipelined(
        c
          .pipeline()
          .eval(...delArgs(key, notAfter))
          .wait(n, timeout),
      ),
    scan: (cursor, pattern, count) => c.scan(cursor, "MATCH", pattern, "COUNT", count),
    mget: (keys) => c.mgetBuffer(keys),
  };
}

function fromNodeRedis(c: NodeRedisCalls): RedisOps {
  // Bulk strings as Buffers, not UTF-8 strings: session data is bytes.
  const bytes = c.withTypeMapping({ [BLOB_STRING]: Buffer });
  const setArgs = (key: string, value: Buffer, at: number, notAfter: number): NodeRedisEval => ({
    keys: [key],
    arguments: [value, String(at), String(notAfter)],
  });
  const delArgs = (key: string, notAfter: number): NodeRedisEval => ({
    keys: [key],
    arguments: [String(notAfter)],
  });
  const pipelined = (m: NodeRedisMulti): Promise<Written> =>
    m.execAsPipeline().then((replies) => written(replies[0], replies[1]));
  return {
    kind: "node-redis",
    clientPrefix: "",
    get: (key) => bytes.get(key),
    set: (key, value, at, notAfter) =>
      c.eval(SET_SCRIPT, setArgs(key, value, at, notAfter)).then(written),
    del: (key, notAfter) => c.eval(DEL_SCRIPT, delArgs(key, notAfter)).then(written),
    setWait: (key, value, at, notAfter, n, timeout) =>
      pipelined(
        c
          .multi()
          .eval(SET_SCRIPT, setArgs(key, value, at, notAfter))
          .wait(n, timeout),
      ),
    delWait: (key, notAfter, n, timeout) =>
      pipelined(c.multi().eval(DEL_SCRIPT, delArgs(key, notAfter)).wait(n, timeout)),
    scan: (cursor, pattern, count) =>
      c
        .scan(cursor, { MATCH: pattern, COUNT: count })
        .then((r): [string, string[]] => [String(r.cursor), r.keys]),
    mget: (keys) => bytes.mGet(keys),
  };
}

/**
 * Recognises the client by its methods.
 * @returns its calls, or undefined when it is none of the supported clients.
 */
export function redisOps(client: unknown): RedisOps | undefined {
  if (typeof client !== "object" || client === null) return undefined;
  if (has(client, ["getBuffer", "mgetBuffer", "eval", "scan", "pipeline"])) {
    return fromIoredis(client as unknown as IoredisCalls);
  }
  if (has(client, ["withTypeMapping", "get", "mGet", "eval", "scan", "multi"])) {
    return fromNodeRedis(client as unknown as NodeRedisCalls);
  }
  return undefined;
}
