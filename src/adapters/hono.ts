/**
 * Hono adapter (Hono 4): `app.use(honoSession(sessions))` loads the session before the
 * handlers and commits it after them — before the response body is read, so streamed bodies
 * too — with the headers of `sessions.handler`. The session is at `c.get("session")`, typed
 * with the manager's data through Hono's variables map, and at `sessions.from(c)`. Built on
 * the Fetch API code of `scs-ts/fetch`, it runs wherever Hono runs: Node (`@hono/node-server`),
 * Bun, Deno, Workers.
 *
 * @example
 * import { serve } from "@hono/node-server";
 * import { Hono } from "hono";
 * import { SessionManager } from "scs-ts";
 * import { type HonoSessionEnv, honoSession } from "scs-ts/hono";
 *
 * type Data = { visits: number };
 * const sessions = new SessionManager<Data>();
 * const app = new Hono<HonoSessionEnv<Data>>();
 * app.use(honoSession(sessions));
 * app.get("/", (c) => {
 *   const visits = (c.get("session").get("visits") ?? 0) + 1;
 *   c.get("session").put("visits", visits);
 *   return c.text(`visits: ${visits}`);
 * });
 * serve({ fetch: app.fetch, port: 3000 });
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import { addSessionHeaders, hasToken } from "../fetch/headers.ts";
import { requestToken, saveForResponse } from "../fetch/request.ts";
import { coreOf, type SessionHeader } from "../http/core.ts";
import { abandonSessions, saveBeforeOutput } from "../http/guard.ts";
import { attachSession } from "../http/handler.ts";
import { ROUTE_ANSWER_HEADERS } from "../http/headers.ts";
import { bindSession, type RequestState } from "../http/request-state.ts";
import type { SessionManager } from "../manager.ts";
import { resolveTransport, type Transport, type TransportOptions } from "../options.ts";
import type { Session } from "../session.ts";
import { type Awaitable, isPromiseLike } from "../store.ts";
import { isFailedStatus } from "./common.ts";

/** Options of `honoSession(sessions, options)`. */
export type HonoSessionOptions = TransportOptions;

/**
 * The Hono environment the middleware provides: `c.get("session")` is a `Session<Data>`.
 * Use it as the app's type, `new Hono<HonoSessionEnv<Data>>()`, or merge it into yours.
 */
export interface HonoSessionEnv<Data extends object> {
  Variables: { session: Session<Data> };
}

// The response header node-server reads as "the response went out already, write nothing".
const ALREADY_SENT = "x-hono-already-sent";

/** What @hono/node-server puts in `c.env`; absent on Bun, Deno and Workers. */
interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

/**
 * Whether this is Node itself: the response guard is built on Node's ServerResponse, and Bun's
 * and Deno's node:http are other implementations (there the Fetch path is used, as without
 * node-server).
 */
const ON_NODE =
  typeof process === "object" &&
  process !== null &&
  typeof process.versions?.node === "string" &&
  process.versions.bun === undefined &&
  !("Deno" in globalThis);

/**
 * Whether `c.env.outgoing` is Node's HTTP/1 response (the guard's methods are all there), not
 * an HTTP/2 compatibility response or something else a runtime put in `c.env`.
 */
function isNodeResponse(value: unknown): value is ServerResponse {
  if (!ON_NODE || typeof value !== "object" || value === null) return false;
  const res = value as Partial<Record<keyof ServerResponse, unknown>>;
  return (
    typeof res.writeHead === "function" &&
    typeof res.flushHeaders === "function" &&
    typeof res.setHeader === "function" &&
    typeof res.getHeaderNames === "function" &&
    typeof res.assignSocket === "function"
  );
}

/**
 * Adds the session's headers to the response `c.res`, in place: on @hono/node-server that
 * keeps its lightweight response (and fast path), where `c.header` after `next()` would turn
 * the body into a stream. A response with immutable headers (from `fetch()`) is copied first.
 */
function setResponseHeaders(c: Context, transport: Transport, header: SessionHeader | undefined) {
  try {
    addSessionHeaders(c.res.headers, transport, header);
    return;
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
  }
  const res = c.res;
  c.res = new Response(res.body, res);
  addSessionHeaders(c.res.headers, transport, header);
}

/**
 * Builds the Hono middleware. Load and commit errors are thrown into Hono's error path
 * (`app.onError`) unless the manager has `onError` and the app runs on `@hono/node-server`
 * (which gives it the Node request and response to answer on). A failed handler (`c.error`),
 * a 404 or a 5xx never commit a session changed on the way.
 * @param sessions the session manager.
 * @param options `{ header: "X-Session" }` carries the token in a header instead of a cookie.
 * @returns the middleware for `app.use`.
 * @throws TypeError when `options.header` is not a header name.
 */
export function honoSession<Data extends object>(
  sessions: SessionManager<Data>,
  options?: HonoSessionOptions,
): MiddlewareHandler<HonoSessionEnv<Data>> {
  const core = coreOf<Data>(sessions);
  const transport = resolveTransport(options);
  const ownErrors = core.hasErrorHandler;

  // Hono's error path is a throw; onError answers on node-server's raw response instead.
  const fail = (c: Context, err: unknown): Response => {
    const env = c.env as NodeBindings | undefined;
    if (!ownErrors || env?.incoming === undefined || env.outgoing === undefined) throw err;
    core.handleError(err, env.incoming, env.outgoing);
    const sent = new Response(null, { headers: { [ALREADY_SENT]: "true" } });
    // node-server's own Response (it replaces the global one) has a fast path that writes
    // without reading this header; reading the body makes it a plain Response, which node-server
    // checks for the header (as its RESPONSE_ALREADY_SENT is).
    void sent.body;
    return sent;
  };

  /**
   * On @hono/node-server: the session's headers go on node's response, as `sessions.handler`
   * sets them (its guard merges them into the head node-server writes: a Vary or Set-Cookie
   * of the route's is kept beside ours), and the commit still runs here, after the handlers,
   * so a store failure is thrown into Hono's error path. Hono's response is left as the route
   * built it, which keeps node-server on its fast path (a header added to it after `next()`
   * takes it off, and even one prepared before costs a Headers object per request).
   */
  const nodeRoute = (
    c: Context,
    session: Session<Data>,
    incoming: IncomingMessage,
    outgoing: ServerResponse,
    next: () => Promise<void>,
  ): Promise<Response | undefined> => {
    const state = attachSession(core, transport, incoming, outgoing, session, {
      abandonWhen: isFailedStatus,
      keys: [c, c.req.raw],
    });
    return next().then(() => saveAfterHandlers(c, state));
  };

  // After the handlers on node-server: commit now, so a store failure goes to Hono's error path.
  const saveAfterHandlers = (
    c: Context,
    state: RequestState,
  ): Promise<Response | undefined> | undefined => {
    if (c.error !== undefined) {
      abandonSessions(state); // a failed handler commits nothing; the head still gets Vary
      return undefined;
    }
    let saved: Promise<void> | undefined;
    try {
      saved = saveBeforeOutput(state, c.res.status);
    } catch (err) {
      failCommit(c, err);
      return undefined;
    }
    return saved?.then(
      () => undefined,
      (err: unknown) => {
        failCommit(c, err);
        return undefined;
      },
    );
  };

  const failCommit = (c: Context, err: unknown): void => {
    // The route's answer will not be sent, and Hono copies its headers onto the error response:
    // not its representation, cookies, caching or redirect.
    for (const name of ROUTE_ANSWER_HEADERS) if (name !== "content-type") c.header(name, undefined);
    c.res = fail(c, err);
  };

  /** Elsewhere (Bun, Deno, Workers, `app.request()`): the headers go on Hono's response. */
  const fetchRoute = async (
    c: Context,
    session: Session<Data>,
    next: () => Promise<void>,
  ): Promise<Response | undefined> => {
    bindSession(core, session, transport, [c, c.req.raw]);
    // Before next(): a response built by c.text/c.json/... takes it from Hono's prepared headers.
    c.header("Vary", transport.vary, { append: true });
    await next();
    if (c.error !== undefined || isFailedStatus(c.res.status)) {
      if (!hasToken(c.res.headers.get("Vary"), transport.vary))
        setResponseHeaders(c, transport, undefined);
      return undefined;
    }
    let header: SessionHeader | undefined;
    try {
      const saved = saveForResponse(core, session, transport);
      header = isPromiseLike(saved) ? await saved : saved;
    } catch (err) {
      failCommit(c, err);
      return undefined;
    }
    // READ: a response built by Hono has Vary already and is left as it is.
    if (header === undefined && hasToken(c.res.headers.get("Vary"), transport.vary)) {
      return undefined;
    }
    setResponseHeaders(c, transport, header);
    return undefined;
  };

  const withSession = (
    c: Context,
    session: Session<Data>,
    next: () => Promise<void>,
  ): Promise<Response | undefined> => {
    c.set("session", session);
    const env = c.env as NodeBindings | undefined;
    if (env !== undefined && isNodeResponse(env.outgoing) && env.incoming !== undefined) {
      return nodeRoute(c, session, env.incoming, env.outgoing, next);
    }
    return fetchRoute(c, session, next);
  };

  // Not an async function: with a store that answers at once (MemStore) no extra promise is
  // made before the handlers run. A throw here is Hono's error path, as a rejection would be.
  return function scsHonoSession(c, next) {
    let loaded: Awaitable<Session<Data>>;
    try {
      // node-server's IncomingMessage has the headers parsed already: no Headers object built.
      const incoming = (c.env as NodeBindings | undefined)?.incoming;
      const token =
        incoming?.headers === undefined
          ? requestToken(core, c.req.raw.headers, transport)
          : core.readToken(incoming.headers, transport);
      loaded = core.load(token);
    } catch (err) {
      return Promise.resolve(fail(c, err));
    }
    if (isPromiseLike(loaded)) {
      return loaded.then(
        (session) => withSession(c, session, next),
        (err: unknown) => fail(c, err),
      );
    }
    return withSession(c, loaded, next);
  };
}
