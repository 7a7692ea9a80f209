/**
 * scs-ts's Fastify plugin with a MemStore, on Fastify 5, with the shared handler body.
 * Usage: node --import tsx bench/http-servers/fastify-scs.ts PORT MODE
 * @module
 */
import { fastifySession } from "../../src/adapters/fastify.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { fastifyServer, serverArgs, step, TEXT } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
const sessions = new SessionManager<{ count: number }>({ store: new MemStore() });

await fastifyServer(port, async (app) => {
  await app.register(fastifySession, { sessions });
  app.get("/init", (request, reply) => {
    sessions.from(request).put("count", 0);
    reply.type(TEXT).send("ok\n");
  });
  app.get("/", (request, reply) => {
    const session = sessions.from(request);
    const n = step(mode, session.get("count") ?? 0);
    if (write) session.put("count", n);
    reply.type(TEXT).send(`count ${n}\n`);
  });
});
