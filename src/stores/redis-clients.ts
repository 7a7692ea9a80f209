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
  set: AnyMethod;
  del: AnyMethod;
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
  set: AnyMethod;
  del: AnyMethod;
  scan: AnyMethod;
  multi: AnyMethod;
}

/** A client RedisStore takes: ioredis, iovalkey or node-redis v5, opened by you. */
export type RedisClientLike = IoredisLike | NodeRedisLike;

/** The calls RedisStore makes, the same for every client. Keys are full keys (prefix included). */
export interface RedisOps {
  /** "ioredis" (also iovalkey) or "node-redis". */
  readonly kind: "ioredis" | "node-redis";
  /** The prefix the client adds on its own (ioredis `keyPrefix`): SCAN sees it, commands must not. */
  readonly clientPrefix: string;
  get(key: string): Promise<Buffer | null>;
  /** `SET key value PXAT at`. */
  set(key: string, value: Buffer, at: number): Promise<unknown>;
  del(key: string): Promise<unknown>;
  /** `SET ... PXAT` then `WAIT replicas timeout` on the same connection. @returns replicas that acknowledged. */
  setWait(
    key: string,
    value: Buffer,
    at: number,
    replicas: number,
    timeout: number,
  ): Promise<number>;
  /** `DEL` then `WAIT` on the same connection. @returns replicas that acknowledged. */
  delWait(key: string, replicas: number, timeout: number): Promise<number>;
  /** `SCAN cursor MATCH pattern COUNT count`. @returns the next cursor ("0" at the end) and keys. */
  scan(cursor: string, pattern: string, count: number): Promise<[string, string[]]>;
  mget(keys: string[]): Promise<(Buffer | null)[]>;
}

/** node-redis's RESP type code of bulk strings (RESP_TYPES.BLOB_STRING). */
const BLOB_STRING = 36;

type Fn<A extends unknown[], R> = (...args: A) => R;

/** ioredis pipeline results: `[error, reply]` per command. */
type PipelineResult = [Error | null, unknown][] | null;

interface IoredisPipeline {
  set(key: string, value: Buffer, mode: "PXAT", at: number): IoredisPipeline;
  del(key: string): IoredisPipeline;
  wait(replicas: number, timeout: number): IoredisPipeline;
  exec(): Promise<PipelineResult>;
}

interface IoredisCalls {
  getBuffer: Fn<[string], Promise<Buffer | null>>;
  mgetBuffer: Fn<[string[]], Promise<(Buffer | null)[]>>;
  set: Fn<[string, Buffer, "PXAT", number], Promise<unknown>>;
  del: Fn<[string], Promise<unknown>>;
  scan: Fn<[string, "MATCH", string, "COUNT", number], Promise<[string, string[]]>>;
  pipeline: Fn<[], IoredisPipeline>;
  options?: { keyPrefix?: unknown };
}

interface NodeRedisMulti {
  set(key: string, value: Buffer, options: { expiration: { type: "PXAT"; value: number } }): this;
  del(key: string): this;
  wait(replicas: number, timeout: number): this;
  execAsPipeline(): Promise<unknown[]>;
}

interface NodeRedisCalls {
  withTypeMapping: Fn<[Record<number, unknown>], NodeRedisCalls>;
  get: Fn<[string], Promise<Buffer | null>>;
  mGet: Fn<[string[]], Promise<(Buffer | null)[]>>;
  set: Fn<[string, Buffer, { expiration: { type: "PXAT"; value: number } }], Promise<unknown>>;
  del: Fn<[string], Promise<unknown>>;
  scan: Fn<
    [string, { MATCH: string; COUNT: number }],
    Promise<{ cursor: string | number; keys: string[] }>
  >;
  multi: Fn<[], NodeRedisMulti>;
}

const has = (client: object, names: readonly string[]): boolean =>
  names.every((n) => typeof (client as Record<string, unknown>)[n] === "function");

/** The replica count WAIT answered, the last reply of a pipeline. */
function replicasAcked(reply: unknown): number {
  return typeof reply === "number" ? reply : Number(reply);
}

function fromIoredis(c: IoredisCalls): RedisOps {
  const prefix = c.options?.keyPrefix;
  const pipelined = async (p: IoredisPipeline): Promise<number> => {
    const results = (await p.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    return replicasAcked(results[results.length - 1]?.[1]);
  };
  return {
    kind: "ioredis",
    clientPrefix: typeof prefix === "string" ? prefix : "",
    get: (key) => c.getBuffer(key),
    set: (key, value, at) => c.set(key, value, "PXAT", at),
    del: (key) => c.del(key),
    setWait: (key, value, at, n, timeout) =>
      pipelined(c.pipeline().set(key, value, "PXAT", at).wait(n, timeout)),
    delWait: (key, n, timeout) => pipelined(c.pipeline().del(key).wait(n, timeout)),
    scan: (cursor, pattern, count) => c.scan(cursor, "MATCH", pattern, "COUNT", count),
    mget: (keys) => c.mgetBuffer(keys),
  };
}

function fromNodeRedis(c: NodeRedisCalls): RedisOps {
  // Bulk strings as Buffers, not UTF-8 strings: session data is bytes.
  const bytes = c.withTypeMapping({ [BLOB_STRING]: Buffer });
  const pxat = (value: number) => ({ expiration: { type: "PXAT" as const, value } });
  const last = (replies: unknown[]) => replicasAcked(replies[replies.length - 1]);
  return {
    kind: "node-redis",
    clientPrefix: "",
    get: (key) => bytes.get(key),
    set: (key, value, at) => c.set(key, value, pxat(at)),
    del: (key) => c.del(key),
    setWait: (key, value, at, n, timeout) =>
      c.multi().set(key, value, pxat(at)).wait(n, timeout).execAsPipeline().then(last),
    delWait: (key, n, timeout) => c.multi().del(key).wait(n, timeout).execAsPipeline().then(last),
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
  if (has(client, ["getBuffer", "mgetBuffer", "set", "del", "scan", "pipeline"])) {
    return fromIoredis(client as unknown as IoredisCalls);
  }
  if (has(client, ["withTypeMapping", "get", "mGet", "set", "del", "scan", "multi"])) {
    return fromNodeRedis(client as unknown as NodeRedisCalls);
  }
  return undefined;
}
