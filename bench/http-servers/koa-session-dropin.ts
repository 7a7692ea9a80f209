/**
 * scs-ts/koa-session (the drop-in for koa-session) with a MemStore, on Koa 3, with the shared
 * handler body written against koa-session's API (`ctx.session.count`).
 * Usage: node --import tsx bench/http-servers/koa-session-dropin.ts PORT MODE
 * @module
 */
import http from "node:http";
import Koa from "koa";
import session from "../../src/adapters/koa-session.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { serve, serverArgs, step, TEXT } from "../lib/server-common.ts";

interface Counter {
  count?: number;
}

const { port, mode } = serverArgs();
const write = mode === "write";
const app = new Koa();
app.use(session({ sessions: new SessionManager({ store: new MemStore() }) }, app));
app.use((ctx) => {
  const s = ctx.session as unknown as Counter;
  ctx.type = TEXT;
  if (ctx.path === "/init") {
    s.count = 0;
    ctx.body = "ok\n";
    return;
  }
  const n = step(mode, s.count ?? 0);
  if (write) s.count = n;
  ctx.body = `count ${n}\n`;
});
serve(http.createServer(app.callback()), port);
