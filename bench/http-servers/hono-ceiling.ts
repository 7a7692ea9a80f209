/**
 * The Hono WRITE ceiling: bare Hono on @hono/node-server plus a middleware that sets one
 * response header (a session-cookie-shaped Set-Cookie) after `next()`, the least any session
 * layer that answers a WRITE with a cookie must do there. Setting a header on the finished
 * response is what takes @hono/node-server off its fast path.
 * Usage: node --import tsx bench/http-servers/hono-ceiling.ts PORT MODE
 * @module
 */
import { Hono } from "hono";
import { honoServer, serverArgs, step } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
let count = 0;
const COOKIE = `session=${"A".repeat(43)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400`;

const app = new Hono();
app.use(async (c, next) => {
  await next();
  c.header("Set-Cookie", COOKIE);
});
app.get("/init", (c) => c.text("ok\n"));
app.get("/", (c) => {
  const n = step(mode, count);
  if (write) count = n;
  return c.text(`count ${n}\n`);
});
honoServer(app, port);
