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
import { coreOf } from "../http/core.ts";
import { abandonSessions, saveBeforeOutput } from "../http/guard.ts";
import { attachSession } from "../http/handler.ts";
import { dropRepresentationHeaders } from "../http/headers.ts";
import type { RequestState } from "../http/request-state.ts";
import type { SessionManager } from "../manager.ts";
import { resolveTransport, type TransportOptions } from "../options.ts";
import type { Session } from "../session.ts";
import { type Awaitable, isPromiseLike } from "../store.ts";
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
  const core = coreOf<Data>(sessions);
  const transport = resolveTransport(options);

  // Koa's error path is a throw; onError answers on the raw response and Koa stays out of it.
  const fail = (ctx: ParameterizedContext, err: unknown): void => {
    dropRepresentationHeaders(ctx.res);
    if (!core.hasErrorHandler) throw err;
    ctx.respond = false;
    core.handleError(err, ctx.req, ctx.res);
  };

  const withSession = (
    ctx: ParameterizedContext,
    session: Session<Data>,
    next: () => Promise<unknown>,
  ): Promise<void> => {
    (ctx as { session: unknown }).session = session;
    // The raw response is guarded too: with `ctx.respond = false` and writes to ctx.res the
    // session is still committed before the first byte; a failure there goes to Koa's onerror.
    const state = attachSession(core, transport, ctx.req, ctx.res, session, {
      fail: (err) =>
        core.hasErrorHandler ? core.handleError(err, ctx.req, ctx.res) : ctx.onerror(err as Error),
      abandonWhen: isFailedStatus,
      keys: [ctx],
    });
    return next().then(
      () => saveAfterDownstream(ctx, state),
      (err: unknown) => {
        abandonSessions(state); // a throw from downstream commits nothing
        throw err;
      },
    );
  };

  // Commit now, before Koa writes the body, so a store failure is thrown into Koa's chain.
  const saveAfterDownstream = (
    ctx: ParameterizedContext,
    state: RequestState,
  ): Promise<void> | undefined => {
    let saved: Promise<void> | undefined;
    try {
      saved = saveBeforeOutput(state, ctx.status);
    } catch (err) {
      fail(ctx, err);
      return undefined;
    }
    return saved?.then(undefined, (err: unknown) => fail(ctx, err));
  };

  // Not an async function: with a store that answers at once (MemStore) no promise is made
  // before the downstream middleware run. Whatever fails is a rejection, as Koa expects.
  return function scsKoaSession(ctx, next): Promise<void> {
    try {
      let loaded: Awaitable<Session<Data>>;
      try {
        loaded = core.load(core.readToken(ctx.req.headers, transport));
      } catch (err) {
        fail(ctx, err);
        return Promise.resolve();
      }
      if (isPromiseLike(loaded)) {
        return loaded.then(
          (session) => withSession(ctx, session, next),
          (err: unknown) => fail(ctx, err),
        );
      }
      return withSession(ctx, loaded, next);
    } catch (err) {
      return Promise.reject(err);
    }
  };
}
