/**
 * scs-ts's Express adapter with a MemStore, on Express 5, with the shared handler body.
 * Usage: node --import tsx bench/http-servers/express-scs.ts PORT MODE
 * @module
 */
import http from "node:http";
import express from "express";
import { expressSession } from "../../src/adapters/express.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { initialized, reply, serve, serverArgs, step } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
const sessions = new SessionManager<{ count: number }>({ store: new MemStore() });

const app = express();
app.use(expressSession(sessions));
app.get("/init", (req, res) => {
  sessions.from(req).put("count", 0);
  initialized(res);
});
app.get("/", (req, res) => {
  const session = sessions.from(req);
  const n = step(mode, session.get("count") ?? 0);
  if (write) session.put("count", n);
  reply(res, n);
});
serve(http.createServer(app), port);
