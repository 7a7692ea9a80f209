/**
 * scs-ts/fastify-session (the drop-in for @fastify/cookie + @fastify/session) with a MemStore,
 * on Fastify 5, with the shared handler body written against @fastify/session's API.
 * Usage: node --import tsx bench/http-servers/fastify-session-dropin.ts PORT MODE
 * @module
 */
import fastifySession from "../../src/adapters/fastify-session.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { fastifyServer, serverArgs, step, TEXT } from "../lib/server-common.ts";

interface Counter {
  get(key: "count"): number | undefined;
  set(key: "count", value: number): void;
}

const { port, mode } = serverArgs();
const write = mode === "write";

await fastifyServer(port, async (app) => {
  await app.register(fastifySession, { sessions: new SessionManager({ store: new MemStore() }) });
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
