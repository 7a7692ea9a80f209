/**
 * scs-ts's Express adapter with RedisStore on a node-redis v5 client, on Express 5, with the
 * shared handler body, for bench/redis.ts. The Redis server's port comes in REDIS_PORT.
 * Usage: REDIS_PORT=6379 node --import tsx bench/http-servers/express-scs-redis.ts PORT MODE
 * @module
 */
import http from "node:http";
import express from "express";
import { createClient } from "redis";
import { expressSession } from "../../src/adapters/express.ts";
import { SessionManager } from "../../src/manager.ts";
import { RedisStore } from "../../src/stores/redisstore.ts";
import { initialized, reply, serve, serverArgs, step } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
const client = createClient({ url: `redis://127.0.0.1:${process.env.REDIS_PORT ?? "6379"}` });
client.on("error", (err: Error) => console.error(`redis: ${err.message}`));
await client.connect();
const store = new RedisStore(client, { prefix: "bench:scs:" });
const sessions = new SessionManager<{ count: number }>({ store });

const app = express();
app.use(expressSession(sessions));
app.get("/init", (req, res) => {
  sessions.from(req).put("count", 0);
  initialized(res);
});
app.get("/", (req, res) => {
  const session = sessions.from(req);
  const n = step(mode, session.get("count") ?? 0);
  if (write) session.put("count", n);
  reply(res, n);
});
serve(http.createServer(app), port);
