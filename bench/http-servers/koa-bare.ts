/**
 * Baseline: bare Koa 3 with the shared handler body (a process-wide counter, no session).
 * Usage: node --import tsx bench/http-servers/koa-bare.ts PORT MODE
 * @module
 */
import http from "node:http";
import Koa from "koa";
import { serve, serverArgs, step, TEXT } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
let count = 0;

const app = new Koa();
app.use((ctx) => {
  ctx.type = TEXT;
  if (ctx.path === "/init") {
    ctx.body = "ok\n";
    return;
  }
  const n = step(mode, count);
  if (write) count = n;
  ctx.body = `count ${n}\n`;
});
serve(http.createServer(app.callback()), port);
