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
import { linkRequestState, requestStateOf } from "../http/request-state.ts";
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
    prepareExpressApp(req);
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

/** Express apps whose `handle` links request state early (one entry per app, none per request). */
const prepared = new WeakSet<object>();

type Handle = (req: IncomingMessage, res: ServerResponse, ...rest: unknown[]) => unknown;
type Method = (this: ServerResponse, ...args: unknown[]) => unknown;
type Proto = Record<"writeHead" | "write" | "end" | "flushHeaders", Method>;

// Stand-ins until the middleware guards the response: each calls the method the response
// would have without it (its prototype's, whichever prototype Express has set by then).
function writeHead(this: ServerResponse, ...args: unknown[]): unknown {
  return (Object.getPrototypeOf(this) as Proto).writeHead.apply(this, args);
}
function write(this: ServerResponse, ...args: unknown[]): unknown {
  return (Object.getPrototypeOf(this) as Proto).write.apply(this, args);
}
function end(this: ServerResponse, ...args: unknown[]): unknown {
  return (Object.getPrototypeOf(this) as Proto).end.apply(this, args);
}
function flushHeaders(this: ServerResponse, ...args: unknown[]): unknown {
  return (Object.getPrototypeOf(this) as Proto).flushHeaders.apply(this, args);
}

/**
 * Makes the app the request is in (`req.app`) give each request, at the start of its
 * `handle` — before Express sets the request's and the response's prototypes
 * (`Object.setPrototypeOf`, on every request) — the own properties the middleware sets later:
 * the four methods the response guard replaces (as stand-ins that call the prototype's), the
 * request-state link on the request and the response, and `req.session` (undefined). V8 does
 * not share the map transitions of an object whose prototype was set: each property added
 * afterwards copies the object's map, ~3 µs apiece (bench/property-adds.ts), seven per
 * request. Added before, they cost nanoseconds, and the middleware only reassigns them, in
 * the same order and with the same result as before (the guard wraps whatever the response's
 * methods are when the middleware runs). Own properties, so sub-apps keep them; a request that
 * never reaches the middleware keeps the stand-ins, which change nothing. Takes effect from
 * the app's next request on; the app instance's `handle` is wrapped once, no prototype is
 * touched. `requestProperties` (the drop-in's `sessionStore`) are set on each request too.
 */
export function prepareExpressApp(
  req: IncomingMessage,
  requestProperties?: Readonly<Record<string, unknown>>,
): void {
  const app = (req as { app?: { handle?: unknown } }).app;
  if ((typeof app !== "object" && typeof app !== "function") || app === null) return;
  if (prepared.has(app)) return;
  prepared.add(app);
  const handle = app.handle;
  if (typeof handle !== "function") return;
  app.handle = function scsLinkedHandle(this: unknown, req, res, ...rest) {
    if (requestStateOf(res) === undefined && requestStateOf(req) === undefined) {
      const own = res as unknown as Proto;
      own.writeHead = writeHead;
      own.write = write;
      own.end = end;
      own.flushHeaders = flushHeaders;
      linkRequestState([req, res]);
      (req as { session?: unknown }).session = undefined;
      if (requestProperties !== undefined) Object.assign(req, requestProperties);
    }
    return (handle as Handle).call(this, req, res, ...rest);
  } satisfies Handle;
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
