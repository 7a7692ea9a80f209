/**
 * Hono adapter (Hono 4): `app.use(honoSession(sessions))` loads the session before the
 * handlers and commits it after them — before the response body is read, so streamed bodies
 * too — with the headers of `sessions.handler`. The session is at `c.get("session")`, typed
 * with the manager's data through Hono's variables map, and at `sessions.from(c)`.
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
import { coreOf, type SessionHeader } from "../http/core.ts";
import { type HeaderBag, REPRESENTATION_HEADERS, setSessionHeaders } from "../http/headers.ts";
import { bindSession } from "../http/request-state.ts";
import type { SessionManager } from "../manager.ts";
import { resolveTransport, type TransportOptions } from "../options.ts";
import { type Session, sessionInternals } from "../session.ts";
import { isPromiseLike } from "../store.ts";
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

// Response headers through Hono's c.header, which makes a finalized response's headers mutable.
class ContextHeaders implements HeaderBag {
  constructor(readonly c: Context) {}
  getHeader(name: string): string | string[] | undefined {
    const headers = this.c.res.headers;
    if (name.toLowerCase() === "set-cookie") {
      const cookies = headers.getSetCookie();
      return cookies.length === 0 ? undefined : cookies;
    }
    return headers.get(name) ?? undefined;
  }
  setHeader(name: string, value: string | string[]): void {
    if (typeof value === "string") {
      this.c.header(name, value);
      return;
    }
    this.c.header(name, undefined);
    for (const item of value) this.c.header(name, item, { append: true });
  }
}

interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
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
    return new Response(null, { headers: { [ALREADY_SENT]: "true" } });
  };

  return async function scsHonoSession(c, next) {
    let session: Session<Data>;
    try {
      const headers =
        transport.header === undefined
          ? { cookie: c.req.header("cookie") }
          : { [transport.headerKey]: c.req.header(transport.headerKey) };
      const loaded = core.load(core.readToken(headers, transport));
      session = isPromiseLike(loaded) ? await loaded : loaded;
    } catch (err) {
      return fail(c, err);
    }
    c.set("session", session);
    bindSession(core, session, transport, [c, c.req.raw]);
    await next();
    sessionInternals.lockToken(session); // the head is built from c.res after this
    const bag = new ContextHeaders(c);
    if (c.error !== undefined || isFailedStatus(c.res.status)) {
      setSessionHeaders(bag, transport, undefined);
      return;
    }
    let header: SessionHeader | undefined;
    try {
      const saved = core.save(session, transport);
      header = isPromiseLike(saved) ? await saved : saved;
    } catch (err) {
      // The route's body will not be sent; Hono copies these headers onto the error response.
      for (const name of REPRESENTATION_HEADERS)
        if (name !== "content-type") c.header(name, undefined);
      c.res = fail(c, err);
      return;
    }
    setSessionHeaders(bag, transport, header);
  };
}
