/**
 * Peer: express-session with its built-in MemoryStore (see bench/lib/express-session-server.ts).
 * Usage: node --import tsx bench/http-servers/express-session-memory.ts PORT MODE
 * @module
 */
import session from "express-session";
import { serveExpressSession } from "../lib/express-session-server.ts";

serveExpressSession(new session.MemoryStore());
