/**
 * scs-ts/express-session (the drop-in for express-session) with a MemStore, on Express 5, with
 * the shared handler body written against express-session's API (`req.session.count`).
 * Usage: node --import tsx bench/http-servers/express-session-dropin.ts PORT MODE
 * @module
 */
import http from "node:http";
import express from "express";
import session from "../../src/adapters/express-session.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { initialized, reply, serve, serverArgs, step } from "../lib/server-common.ts";

// req.session as express-session shapes it (this program types it as scs-ts/express's).
interface SessionCounter {
  count?: number;
}

const { port, mode } = serverArgs();
const write = mode === "write";
const app = express();
app.use(session({ sessions: new SessionManager({ store: new MemStore() }) }));
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
