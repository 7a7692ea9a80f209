/**
 * The express-session peer servers (MemoryStore, memorystore) share everything but the store:
 * Express 5, express-session configured fairly (resave: false, saveUninitialized: false, a
 * secret, a 24 h cookie like scs-ts's so a modified session re-sends its cookie), and the
 * shared handler body.
 * @module
 */
import http from "node:http";
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
} from "./server-common.ts";

// express-session's req.session; typed loosely because this project's own Express adapter
// declares req.session as the scs-ts session.
interface SessionCounter {
  count?: number;
}

/** Starts the express-session server on the PORT and MODE given on the command line. */
export function serveExpressSession(store: session.Store): void {
  const { port, mode } = serverArgs();
  const write = mode === "write";
  const app = express();
  app.use(
    session({
      secret: BENCH_SECRET,
      resave: false,
      saveUninitialized: false,
      store,
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
}
