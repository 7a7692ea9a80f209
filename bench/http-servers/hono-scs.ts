/**
 * scs-ts's Hono adapter with a MemStore, on Hono 4 over @hono/node-server, with the shared
 * handler body.
 * Usage: node --import tsx bench/http-servers/hono-scs.ts PORT MODE
 * @module
 */
import { Hono } from "hono";
import { type HonoSessionEnv, honoSession } from "../../src/adapters/hono.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { honoServer, serverArgs, step } from "../lib/server-common.ts";

type Data = { count: number };
const { port, mode } = serverArgs();
const write = mode === "write";
const sessions = new SessionManager<Data>({ store: new MemStore() });

const app = new Hono<HonoSessionEnv<Data>>();
app.use(honoSession(sessions));
app.get("/init", (c) => {
  sessions.from(c).put("count", 0);
  return c.text("ok\n");
});
app.get("/", (c) => {
  const session = sessions.from(c);
  const n = step(mode, session.get("count") ?? 0);
  if (write) session.put("count", n);
  return c.text(`count ${n}\n`);
});
honoServer(app, port);
