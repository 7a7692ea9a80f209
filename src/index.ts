/**
 * scs-ts: HTTP session management for Node.js — the design of Go's SCS in TypeScript.
 * The core entry has no runtime dependency and loads no framework.
 *
 * @example
 * import { createServer } from "node:http";
 * import { SessionManager } from "scs-ts";
 *
 * const sessions = new SessionManager();
 * createServer(sessions.handler((req, res) => {
 *   const session = sessions.from(req);
 *   session.put("visits", session.getNumber("visits") + 1);
 *   res.end(`visits: ${session.getNumber("visits")}`);
 * })).listen(3000);
 * @module
 */
export { type Codec, defaultCodec } from "./codec.ts";
export type { CookieOptions, ResolvedCookieOptions } from "./cookie.ts";
export {
  CodecError,
  CookieTooLargeError,
  NotIterableError,
  SessionConflictError,
  SessionError,
  StoreUnavailableError,
} from "./errors.ts";
export type { HandlerOptions } from "./http/handler.ts";
export { type CommitResult, SessionManager } from "./manager.ts";
export type { ErrorHandler, Logger, SessionManagerOptions, TransportOptions } from "./options.ts";
export { type KeyOf, Session, type SessionData, type SessionStatus } from "./session.ts";
export { type Awaitable, type IterableStore, isIterableStore, type Store } from "./store.ts";
export { MemStore, type MemStoreOptions } from "./stores/memstore.ts";
export { generateToken, hashToken, isWellFormedToken } from "./token.ts";
