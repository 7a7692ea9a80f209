/**
 * Express adapter (Express 4 and 5): `app.use(expressSession(sessions))` loads the session
 * before the routes and commits it before the first byte of the response, with the headers of
 * `sessions.handler`. The session is at `req.session` and `sessions.from(req)`.
 *
 * Type `req.session` by declaring your data in {@link ExpressSessionData}.
 *
 * @example
 * import express from "express";
 * import { SessionManager } from "scs-ts";
 * import { expressSession } from "scs-ts/express";
 *
 * declare module "scs-ts/express" {
 *   interface ExpressSessionData { visits: number }
 * }
 * const sessions = new SessionManager<{ visits: number }>();
 * const app = express();
 * app.use(expressSession(sessions));
 * app.get("/", (req, res) => {
 *   const visits = (req.session.get("visits") ?? 0) + 1;
 *   req.session.put("visits", visits);
 *   res.send(`visits: ${visits}`);
 * });
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { coreOf, type SessionCore } from "../http/core.ts";
import { attachSession } from "../http/handler.ts";
import type { SessionManager } from "../manager.ts";
import { resolveTransport, type TransportOptions } from "../options.ts";
import type { Session } from "../session.ts";
import { isPromiseLike } from "../store.ts";
import { isFailedStatus, type RegisteredData } from "./common.ts";

/**
 * The type of `req.session`'s data. Empty (untyped values) until you declare your keys:
 * `declare module "scs-ts/express" { interface ExpressSessionData { userId: string } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the application's declaration merging
export interface ExpressSessionData {}

declare global {
  namespace Express {
    interface Request {
      /** This request's session (scs-ts), typed by {@link ExpressSessionData}. */
      session: Session<RegisteredData<ExpressSessionData>>;
    }
  }
}

/** Options of `expressSession(sessions, options)`. */
export type ExpressSessionOptions = TransportOptions;

/** Express's `next`, as far as the adapter calls it. */
export type ExpressNext = (err?: unknown) => void;

/** An Express middleware function (accepted by `app.use` of Express 4 and 5). */
export type ExpressSessionMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: ExpressNext,
) => void;

/**
 * Builds the Express middleware. Load and commit errors go to Express's error path
 * (`next(err)`, so your error middleware sees them) unless the manager has `onError`.
 * Responses with status 404 or 5xx never commit a session changed on the way.
 * @param sessions the session manager.
 * @param options `{ header: "X-Session" }` carries the token in a header instead of a cookie.
 * @returns the middleware for `app.use`.
 * @throws TypeError when `options.header` is not a header name.
 */
export function expressSession<Data extends object>(
  sessions: SessionManager<Data>,
  options?: ExpressSessionOptions,
): ExpressSessionMiddleware {
  const core = coreOf<Data>(sessions);
  const transport = resolveTransport(options);

  const start = (
    req: IncomingMessage,
    res: ServerResponse,
    next: ExpressNext,
    session: Session<Data>,
  ): void => {
    // A plain own property: it survives the prototype resets of mounted sub-apps.
    (req as { session?: unknown }).session = session;
    attachSession(core, transport, req, res, session, {
      fail: (err) => fail(core, req, res, next, err),
      abandonWhen: isFailedStatus,
    });
    next();
  };

  // The synchronous path (a store that answers at once) builds no closure for the load.
  return function scsExpressSession(req, res, next): void {
    let loaded: Session<Data> | Promise<Session<Data>>;
    try {
      loaded = core.load(core.readToken(req.headers, transport));
    } catch (err) {
      fail(core, req, res, next, err);
      return;
    }
    if (!isPromiseLike(loaded)) {
      start(req, res, next, loaded);
      return;
    }
    loaded.then(
      (session) => start(req, res, next, session),
      (err: unknown) => fail(core, req, res, next, err),
    );
  };
}

function fail<Data extends object>(
  core: SessionCore<Data>,
  req: IncomingMessage,
  res: ServerResponse,
  next: ExpressNext,
  err: unknown,
): void {
  if (core.hasErrorHandler) core.handleError(err, req, res);
  else next(err);
}
