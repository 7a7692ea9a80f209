/**
 * Bare Hono 4 on @hono/node-server plus one middleware that only awaits `next()`: what any
 * middleware costs on Hono, whose router calls a route with a single handler directly and
 * composes a chain (promises, a dispatch closure) as soon as there are two.
 * Usage: node bench/out/servers/hono-middleware.mjs PORT MODE
 * @module
 */
import { Hono } from "hono";
import { honoServer, serverArgs, step } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
let count = 0;

const app = new Hono();
app.use(async (_c, next) => {
  await next();
});
app.get("/init", (c) => c.text("ok\n"));
app.get("/", (c) => {
  const n = step(mode, count);
  if (write) count = n;
  return c.text(`count ${n}\n`);
});
honoServer(app, port);
