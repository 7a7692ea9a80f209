/**
 * Peer: express-session with the memorystore package (an LRU store with a prune interval) on
 * Express 5, configured as express-session-memory.ts, with the shared handler body.
 * Usage: node --import tsx bench/http-servers/express-session-memorystore.ts PORT MODE
 * @module
 */
import http from "node:http";
import { createRequire } from "node:module";
import express from "express";
import session from "express-session";
import {
  BENCH_SECRET,
  DAY_MS,
  initialized,
  reply,
  serve,
  serverArgs,
  step,
} from "../lib/server-common.ts";

type StoreClass = new (options: { checkPeriod: number }) => session.Store;
const memorystore = createRequire(import.meta.url)("memorystore") as (
  s: typeof session,
) => StoreClass;
const MemoryStore = memorystore(session);

// express-session's req.session; typed loosely because this project's own Express adapter
// declares req.session as the scs-ts session.
interface SessionCounter {
  count?: number;
}

const { port, mode } = serverArgs();
const write = mode === "write";
const app = express();
app.use(
  session({
    secret: BENCH_SECRET,
    resave: false,
    saveUninitialized: false,
    // memorystore's README setting: prune expired entries once a day.
    store: new MemoryStore({ checkPeriod: DAY_MS }),
    cookie: { maxAge: DAY_MS, httpOnly: true, sameSite: "lax" },
  }),
);
app.get("/init", (req, res) => {
  (req.session as unknown as SessionCounter).count = 0;
  initialized(res);
});
app.get("/", (req, res) => {
  const s = req.session as unknown as SessionCounter;
  const n = step(mode, s.count ?? 0);
  if (write) s.count = n;
  reply(res, n);
});
serve(http.createServer(app), port);
