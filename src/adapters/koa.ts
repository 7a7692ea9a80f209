/**
 * Koa adapter (Koa 2 and 3): `app.use(koaSession(sessions))` loads the session before the
 * downstream middleware and commits it when they are done — before Koa writes the first byte
 * of the body, streams included — with the headers of `sessions.handler`. The session is at
 * `ctx.session` and `sessions.from(ctx)` (or `sessions.from(ctx.req)`).
 *
 * Type `ctx.session` by declaring your data in {@link KoaSessionData}.
 *
 * @example
 * import Koa from "koa";
 * import { SessionManager } from "scs-ts";
 * import { koaSession } from "scs-ts/koa";
 *
 * declare module "scs-ts/koa" {
 *   interface KoaSessionData { visits: number }
 * }
 * const sessions = new SessionManager<{ visits: number }>();
 * const app = new Koa();
 * app.use(koaSession(sessions));
 * app.use((ctx) => {
 *   const visits = (ctx.session.get("visits") ?? 0) + 1;
 *   ctx.session.put("visits", visits);
 *   ctx.body = `visits: ${visits}`;
 * });
 * @module
 */
import type { Middleware, ParameterizedContext } from "koa";
import type { SessionHeader, SessionManager } from "../manager.ts";
import { resolveTransport, type TransportOptions } from "../options.ts";
import { dropRepresentationHeaders, setSessionHeaders } from "../response-headers.ts";
import type { Session } from "../session.ts";
import { isPromiseLike } from "../store.ts";
import { isFailedStatus, type RegisteredData } from "./common.ts";

/**
 * The type of `ctx.session`'s data. Empty (untyped values) until you declare your keys:
 * `declare module "scs-ts/koa" { interface KoaSessionData { userId: string } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the application's declaration merging
export interface KoaSessionData {}

declare module "koa" {
  interface DefaultContext {
    /** This request's session (scs-ts), typed by {@link KoaSessionData}. */
    session: Session<RegisteredData<KoaSessionData>>;
  }
}

/** Options of `koaSession(sessions, options)`. */
export type KoaSessionOptions = TransportOptions;

/**
 * Builds the Koa middleware. Load and commit errors are thrown into Koa's error path (your
 * try/catch middleware, then `app.on("error")`) unless the manager has `onError`, which then
 * answers on `ctx.res` itself. A thrown downstream middleware, a 404 or a 5xx never commit a
 * session changed on the way.
 * @param sessions the session manager.
 * @param options `{ header: "X-Session" }` carries the token in a header instead of a cookie.
 * @returns the middleware for `app.use`.
 * @throws TypeError when `options.header` is not a header name.
 */
export function koaSession<Data extends object>(
  sessions: SessionManager<Data>,
  options?: KoaSessionOptions,
): Middleware {
  const transport = resolveTransport(options);
  const ownErrors = sessions.hasErrorHandler;

  // Koa's error path is a throw; onError answers on the raw response and Koa stays out of it.
  const fail = (ctx: ParameterizedContext, err: unknown): void => {
    dropRepresentationHeaders(ctx.res);
    if (!ownErrors) throw err;
    ctx.respond = false;
    sessions.handleError(err, ctx.req, ctx.res);
  };

  return async function scsKoaSession(ctx, next): Promise<void> {
    let session: Session<Data>;
    try {
      const loaded = sessions.loadAwaitable(sessions.readToken(ctx.req.headers, transport));
      session = isPromiseLike(loaded) ? await loaded : loaded;
    } catch (err) {
      fail(ctx, err);
      return;
    }
    sessions.attach(ctx, session);
    sessions.attach(ctx.req, session);
    (ctx as { session: unknown }).session = session;
    // A throw from downstream passes through untouched: nothing is committed.
    await next();
    if (isFailedStatus(ctx.status)) {
      setSessionHeaders(ctx.res, transport, undefined);
      return;
    }
    let header: SessionHeader | undefined;
    try {
      const saved = sessions.saveAwaitable(session, transport);
      header = isPromiseLike(saved) ? await saved : saved;
    } catch (err) {
      fail(ctx, err);
      return;
    }
    setSessionHeaders(ctx.res, transport, header);
  };
}
