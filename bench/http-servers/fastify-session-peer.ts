/**
 * Peer: @fastify/cookie + @fastify/session 11 with its default in-memory store, on Fastify 5:
 * `saveUninitialized: false`, `rolling: false` (the cookie is sent when the session changed,
 * as scs-ts does), a secret, a 24 h cookie like scs-ts's.
 * Usage: node --import tsx bench/http-servers/fastify-session-peer.ts PORT MODE
 * @module
 */
import fastifyCookie from "@fastify/cookie";
import fastifySession from "@fastify/session";
import {
  BENCH_SECRET,
  DAY_MS,
  fastifyServer,
  serverArgs,
  step,
  TEXT,
} from "../lib/server-common.ts";

interface Counter {
  get(key: "count"): number | undefined;
  set(key: "count", value: number): void;
}

const { port, mode } = serverArgs();
const write = mode === "write";

await fastifyServer(port, async (app) => {
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: BENCH_SECRET,
    cookieName: "session",
    saveUninitialized: false,
    rolling: false,
    cookie: { secure: false, httpOnly: true, sameSite: "lax", maxAge: DAY_MS },
  });
  app.get("/init", (request, reply) => {
    (request.session as unknown as Counter).set("count", 0);
    reply.type(TEXT).send("ok\n");
  });
  app.get("/", (request, reply) => {
    const s = request.session as unknown as Counter;
    const n = step(mode, s.get("count") ?? 0);
    if (write) s.set("count", n);
    reply.type(TEXT).send(`count ${n}\n`);
  });
});
