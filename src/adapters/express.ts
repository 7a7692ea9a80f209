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
import { guardResponse } from "../guard.ts";
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

// req.session without adding a property to each request: Express gives every request the
// app's own prototype, after which an added property costs microseconds. A cached child of
// that prototype carries a `session` accessor backed by a WeakMap (still writable, as users of
// other session libraries expect).
const requestSessions = new WeakMap<object, unknown>();
const sessionPrototypes = new WeakMap<object, object>();

function exposeSession(req: IncomingMessage, session: unknown): void {
  requestSessions.set(req, session);
  const proto = Object.getPrototypeOf(req) as object;
  if (Object.hasOwn(req, "session") || proto === null) {
    (req as { session?: unknown }).session = session;
    return;
  }
  let withSession = sessionPrototypes.get(proto);
  if (withSession === undefined) {
    if (Object.hasOwn(proto, "session")) {
      withSession = proto; // already ours
    } else {
      withSession = Object.create(proto, {
        session: {
          get(this: object) {
            return requestSessions.get(this);
          },
          set(this: object, value: unknown) {
            requestSessions.set(this, value);
          },
          configurable: true,
          enumerable: true,
        },
      }) as object;
      sessionPrototypes.set(withSession, withSession);
    }
    sessionPrototypes.set(proto, withSession);
  }
  if (withSession !== proto) Object.setPrototypeOf(req, withSession);
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
  const transport = resolveTransport(options);
  const ownErrors = sessions.hasErrorHandler;

  const start = (
    req: IncomingMessage,
    res: ServerResponse,
    next: ExpressNext,
    session: Session<Data>,
  ): void => {
    sessions.attach(req, session);
    exposeSession(req, session);
    guardResponse(sessions, transport, req, res, session, {
      onError: (err) => fail(sessions, ownErrors, req, res, next, err),
      abandonWhen: isFailedStatus,
    });
    next();
  };

  return function scsExpressSession(req, res, next): void {
    let loaded: Session<Data> | Promise<Session<Data>>;
    try {
      loaded = sessions.loadAwaitable(sessions.readToken(req.headers, transport));
    } catch (err) {
      fail(sessions, ownErrors, req, res, next, err);
      return;
    }
    if (isPromiseLike(loaded)) {
      loaded.then(
        (session) => start(req, res, next, session),
        (err: unknown) => fail(sessions, ownErrors, req, res, next, err),
      );
    } else {
      start(req, res, next, loaded);
    }
  };
}

function fail<Data extends object>(
  sessions: SessionManager<Data>,
  ownErrors: boolean,
  req: IncomingMessage,
  res: ServerResponse,
  next: ExpressNext,
  err: unknown,
): void {
  if (ownErrors) sessions.handleError(err, req, res);
  else next(err);
}
