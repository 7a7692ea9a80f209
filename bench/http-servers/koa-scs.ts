/**
 * scs-ts's Koa adapter with a MemStore, on Koa 3, with the shared handler body.
 * Usage: node --import tsx bench/http-servers/koa-scs.ts PORT MODE
 * @module
 */
import http from "node:http";
import Koa from "koa";
import { koaSession } from "../../src/adapters/koa.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { serve, serverArgs, step, TEXT } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
const sessions = new SessionManager<{ count: number }>({ store: new MemStore() });

const app = new Koa();
app.use(koaSession(sessions));
app.use((ctx) => {
  const session = sessions.from(ctx);
  ctx.type = TEXT;
  if (ctx.path === "/init") {
    session.put("count", 0);
    ctx.body = "ok\n";
    return;
  }
  const n = step(mode, session.get("count") ?? 0);
  if (write) session.put("count", n);
  ctx.body = `count ${n}\n`;
});
serve(http.createServer(app.callback()), port);
