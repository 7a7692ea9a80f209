/**
 * Peer: hono-sessions with its MemoryStore, on Hono 4 over @hono/node-server: 24 h expiry like
 * scs-ts, no encryptionKey (the cookie carries the session id; encrypting it would only make
 * the peer slower).
 * Usage: node --import tsx bench/http-servers/hono-sessions-peer.ts PORT MODE
 * @module
 */
import { Hono } from "hono";
import { MemoryStore, type Session, sessionMiddleware } from "hono-sessions";
import { DAY_MS, honoServer, serverArgs, step } from "../lib/server-common.ts";

type Data = { count: number };
const { port, mode } = serverArgs();
const write = mode === "write";

const app = new Hono<{ Variables: { session: Session<Data>; session_key_rotation: boolean } }>();
app.use(
  sessionMiddleware({
    store: new MemoryStore(),
    sessionCookieName: "session",
    expireAfterSeconds: DAY_MS / 1000,
    cookieOptions: { path: "/", httpOnly: true, sameSite: "Lax" },
  }),
);
app.get("/init", (c) => {
  c.get("session").set("count", 0);
  return c.text("ok\n");
});
app.get("/", (c) => {
  const session = c.get("session");
  const n = step(mode, session.get("count") ?? 0);
  if (write) session.set("count", n);
  return c.text(`count ${n}\n`);
});
honoServer(app, port);
