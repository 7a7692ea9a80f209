/**
 * Peer: koa-session 7 with an external in-memory store (a Map holding each session object
 * until its expiry), so the session lives server-side as scs-ts's does and the cookie carries
 * only its key: signed cookie (app.keys), 24 h maxAge like scs-ts, `rolling: false`.
 * Usage: node --import tsx bench/http-servers/koa-session-peer.ts PORT MODE
 * @module
 */
import http from "node:http";
import Koa from "koa";
import session from "koa-session";
import { BENCH_SECRET, DAY_MS, serve, serverArgs, step, TEXT } from "../lib/server-common.ts";

interface Counter {
  count?: number;
}

// koa-session's external store contract (it awaits each call): get / set(key, value, maxAge) / destroy.
const entries = new Map<string, { value: unknown; expires: number }>();
const store = {
  async get(key: string): Promise<unknown> {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry.value;
  },
  async set(key: string, value: unknown, maxAge: number): Promise<void> {
    entries.set(key, { value, expires: Date.now() + maxAge });
  },
  async destroy(key: string): Promise<void> {
    entries.delete(key);
  },
};

const { port, mode } = serverArgs();
const write = mode === "write";
const app = new Koa();
app.keys = [BENCH_SECRET];
app.use(session({ key: "session", maxAge: DAY_MS, rolling: false, store }, app));
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
