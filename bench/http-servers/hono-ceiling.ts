/**
 * The Hono WRITE ceiling: bare Hono on @hono/node-server plus a middleware that sets one
 * response header (a session-cookie-shaped Set-Cookie) after `next()`, the least any session
 * layer that answers a WRITE with a cookie must do there, the cheapest way Hono allows: on
 * the response's own headers (`c.res.headers`), which keeps Hono's lightweight response
 * (`c.header` after `next()` would rebuild it around a stream). Any header set after the
 * handler is what takes @hono/node-server off its fast path.
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
  c.res.headers.set("Set-Cookie", COOKIE);
});
app.get("/init", (c) => c.text("ok\n"));
app.get("/", (c) => {
  const n = step(mode, count);
  if (write) count = n;
  return c.text(`count ${n}\n`);
});
honoServer(app, port);
