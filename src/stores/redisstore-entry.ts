/**
 * `scs-ts/redisstore`: sessions in Redis (or Valkey), one key per session with its expiry kept
 * by Redis, through your ioredis, iovalkey or node-redis v5 client (an optional peer
 * dependency; nothing is bundled), plain or through Sentinel.
 *
 * @example
 * import Redis from "ioredis";
 * import { RedisStore } from "scs-ts/redisstore";
 * const store = new RedisStore(new Redis(process.env.REDIS_URL), { prefix: "scs:session:" });
 * @module
 */
export type { IoredisLike, NodeRedisLike, RedisClientLike } from "./redis-clients.ts";
export { RedisStore, type RedisStoreOptions } from "./redisstore.ts";
