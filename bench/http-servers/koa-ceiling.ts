/**
 * The Koa ceiling of a session layer: bare Koa 3 plus the headers a session response carries
 * (`Vary: Cookie`; in WRITE mode also a session-shaped `Set-Cookie` and
 * `Cache-Control: no-cache="Set-Cookie"`), set on node's response as the layer sets them, and
 * nothing else.
 * Usage: node bench/out/servers/koa-ceiling.mjs PORT MODE
 * @module
 */
import http from "node:http";
import Koa from "koa";
import { serve, serverArgs, step, TEXT } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
let count = 0;
const COOKIE = `session=${"A".repeat(43)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400; Expires=Thu, 03 Dec 2026 01:00:00 GMT`;

const app = new Koa();
app.use((ctx) => {
  ctx.type = TEXT;
  if (ctx.path === "/init") {
    ctx.body = "ok\n";
    return;
  }
  const n = step(mode, count);
  ctx.res.setHeader("Vary", "Cookie");
  if (write) {
    count = n;
    ctx.res.setHeader("Set-Cookie", COOKIE);
    ctx.res.setHeader("Cache-Control", 'no-cache="Set-Cookie"');
  }
  ctx.body = `count ${n}\n`;
});
serve(http.createServer(app.callback()), port);
