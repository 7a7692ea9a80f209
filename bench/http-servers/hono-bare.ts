/**
 * Baseline: bare Hono 4 on @hono/node-server with the shared handler body (a process-wide
 * counter, no session).
 * Usage: node --import tsx bench/http-servers/hono-bare.ts PORT MODE
 * @module
 */
import { Hono } from "hono";
import { honoServer, serverArgs, step } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
let count = 0;

const app = new Hono();
app.get("/init", (c) => c.text("ok\n"));
app.get("/", (c) => {
  const n = step(mode, count);
  if (write) count = n;
  return c.text(`count ${n}\n`);
});
honoServer(app, port);
