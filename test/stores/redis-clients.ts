/**
 * The Redis clients the RedisStore tests run on, as users create them: ioredis, iovalkey and
 * node-redis v5, each connected to a real server of test/helpers/redis.ts.
 * @module
 */
import { Redis as IoRedis } from "ioredis";
import { Redis as IoRedis6 } from "ioredis6";
import { Redis as IoValkey } from "iovalkey";
import { createClient } from "redis";
import { createClient as createClient6 } from "redis6";
import type { RedisClientLike } from "../../src/stores/redis-clients.ts";

/** One connected client and how to end it. */
export interface TestClient {
  /** One of {@link CLIENT_KINDS}. */
  name: string;
  client: RedisClientLike;
  /** Raw bytes of a key, read past the store. */
  rawGet(key: string): Promise<Buffer | null>;
  /** PEXPIRETIME of a key (-1 none, -2 missing). */
  expireTime(key: string): Promise<number>;
  /** Runs any command on the client, for setup (HSET, FLUSHDB ...). */
  command(args: string[]): Promise<unknown>;
  quit(): Promise<void>;
}

/** Client kinds, in the order the suites run them: each major line of each library. */
export const CLIENT_KINDS = [
  "ioredis",
  "node-redis",
  "iovalkey",
  "ioredis 6",
  "node-redis 6",
] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

/**
 * Connects a client of `kind` to 127.0.0.1:`port` with its defaults (reconnects included), and
 * waits until it is ready.
 * @returns the client and raw helpers.
 */
export async function connectClient(kind: ClientKind, port: number): Promise<TestClient> {
  if (kind === "node-redis")
    return nodeRedis(kind, createClient({ url: `redis://127.0.0.1:${port}` }));
  if (kind === "node-redis 6") {
    return nodeRedis(kind, createClient6({ url: `redis://127.0.0.1:${port}` }));
  }
  if (kind === "ioredis") return ioredis(kind, new IoRedis(port, "127.0.0.1"));
  if (kind === "ioredis 6") return ioredis(kind, new IoRedis6(port, "127.0.0.1"));
  return ioredis(kind, new IoValkey(port, "127.0.0.1"));
}

/** The node-redis calls the helpers use, the same in v5 and v6. */
interface NodeRedisTestClient {
  on(event: "error", listener: () => void): unknown;
  connect(): Promise<unknown>;
  withTypeMapping(mapping: { 36: BufferConstructor }): { get(key: string): Promise<unknown> };
  pExpireTime(key: string): Promise<number>;
  sendCommand(args: string[]): Promise<unknown>;
  readonly isOpen: boolean;
  close(): Promise<void>;
}

async function nodeRedis<C extends NodeRedisTestClient & RedisClientLike>(
  name: string,
  client: C,
): Promise<TestClient> {
  client.on("error", () => {}); // reconnect noise; the store reports failures itself
  await client.connect();
  const bytes = client.withTypeMapping({ 36: Buffer });
  return {
    name,
    client,
    rawGet: (key) => bytes.get(key) as Promise<Buffer | null>,
    expireTime: (key) => client.pExpireTime(key),
    command: (args) => client.sendCommand(args),
    quit: async () => {
      if (client.isOpen) await client.close();
    },
  };
}

/** The ioredis calls the helpers use, the same in ioredis 5, 6 and iovalkey. */
interface IoredisTestClient {
  on(event: "error", listener: () => void): unknown;
  once(event: "ready" | "end", listener: () => void): unknown;
  getBuffer(key: string): Promise<Buffer | null>;
  pexpiretime(key: string): Promise<number>;
  call(command: string, ...args: string[]): Promise<unknown>;
  readonly status: string;
  quit(): Promise<unknown>;
  disconnect(): void;
}

async function ioredis<C extends IoredisTestClient & RedisClientLike>(
  name: string,
  client: C,
): Promise<TestClient> {
  client.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve());
    client.once("end", () => reject(new Error(`${name} could not connect`)));
  });
  return {
    name,
    client,
    rawGet: (key) => client.getBuffer(key),
    expireTime: (key) => client.pexpiretime(key),
    command: ([cmd = "", ...args]) => client.call(cmd, ...args),
    quit: async () => {
      if (client.status !== "end") await client.quit().catch(() => client.disconnect());
    },
  };
}
