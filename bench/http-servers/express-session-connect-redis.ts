/**
 * Peer: express-session with connect-redis on a node-redis v5 client, for bench/redis.ts (see
 * bench/lib/express-session-server.ts). The Redis server's port comes in REDIS_PORT.
 * Usage: REDIS_PORT=6379 node --import tsx bench/http-servers/express-session-connect-redis.ts PORT MODE
 * @module
 */
import { RedisStore } from "connect-redis";
import { createClient } from "redis";
import { serveExpressSession } from "../lib/express-session-server.ts";

const client = createClient({ url: `redis://127.0.0.1:${process.env.REDIS_PORT ?? "6379"}` });
client.on("error", (err: Error) => console.error(`redis: ${err.message}`));
await client.connect();
serveExpressSession(new RedisStore({ client, prefix: "bench:connect-redis:" }));
