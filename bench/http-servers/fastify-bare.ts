/**
 * Baseline: bare Fastify 5 with the shared handler body (a process-wide counter, no session).
 * Usage: node --import tsx bench/http-servers/fastify-bare.ts PORT MODE
 * @module
 */
import { fastifyServer, serverArgs, step, TEXT } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
let count = 0;

await fastifyServer(port, (app) => {
  app.get("/init", (_request, reply) => reply.type(TEXT).send("ok\n"));
  app.get("/", (_request, reply) => {
    const n = step(mode, count);
    if (write) count = n;
    reply.type(TEXT).send(`count ${n}\n`);
  });
});
