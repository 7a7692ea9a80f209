/**
 * Peer: express-session with the memorystore package (an LRU store with a prune interval; see
 * bench/lib/express-session-server.ts).
 * Usage: node --import tsx bench/http-servers/express-session-memorystore.ts PORT MODE
 * @module
 */
import { createRequire } from "node:module";
import session from "express-session";
import { serveExpressSession } from "../lib/express-session-server.ts";
import { DAY_MS } from "../lib/server-common.ts";

type StoreClass = new (options: { checkPeriod: number }) => session.Store;
const memorystore = createRequire(import.meta.url)("memorystore") as (
  s: typeof session,
) => StoreClass;
const MemoryStore = memorystore(session);

// memorystore's README setting: prune expired entries once a day.
serveExpressSession(new MemoryStore({ checkPeriod: DAY_MS }));
