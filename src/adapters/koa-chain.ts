/**
 * The request cycle both Koa entries (`scs-ts/koa` and the `scs-ts/koa-session` drop-in)
 * share: load the session, attach it to the raw request and response (guarded, so a write to
 * `ctx.res` is committed before its first byte too), run the downstream middleware, then
 * commit before Koa writes the body, so a store failure is thrown into Koa's chain. Not an
 * async function: with a store that answers at once (MemStore) no promise is made before the
 * downstream middleware run; whatever fails is a rejection, as Koa expects.
 * @module
 */
import type { Middleware, ParameterizedContext } from "koa";
import type { SessionCore } from "../http/core.ts";
import { abandonSessions, saveBeforeOutput } from "../http/guard.ts";
import { attachSession } from "../http/handler.ts";
import { dropRouteAnswerHeaders } from "../http/headers.ts";
import type { RequestState } from "../http/request-state.ts";
import type { Transport } from "../options.ts";
import type { Session } from "../session.ts";
import { type Awaitable, isPromiseLike } from "../store.ts";
import { isFailedStatus } from "./common.ts";

/**
 * Puts the loaded session on the context (the entry's own shape of it).
 * @returns a hook to run just before each save (the drop-in's data sync), or undefined.
 */
export type ExposeSession<Data extends object> = (
  ctx: ParameterizedContext,
  session: Session<Data>,
) => (() => void) | undefined;

/**
 * Builds the Koa middleware of one entry around `expose`. Load and commit errors are thrown
 * into Koa's error path unless the manager has `onError`, which then answers on `ctx.res`; a
 * 404 or a 5xx never commit a session changed on the way, nor does a thrown downstream
 * middleware unless `keepOnThrow` (the drop-in, as koa-session: the answer an upstream error
 * handler makes decides, by its status).
 * @returns the middleware.
 */
export function koaSessionChain<Data extends object>(
  core: SessionCore<Data>,
  transport: Transport,
  expose: ExposeSession<Data>,
  keepOnThrow = false,
): Middleware {
  // Koa's error path is a throw; onError answers on the raw response and Koa stays out of it.
  const fail = (ctx: ParameterizedContext, err: unknown): void => {
    dropRouteAnswerHeaders(ctx.res);
    if (!core.hasErrorHandler) throw err;
    ctx.respond = false;
    core.handleError(err, ctx.req, ctx.res);
  };

  const withSession = (
    ctx: ParameterizedContext,
    session: Session<Data>,
    next: () => Promise<unknown>,
  ): Promise<void> => {
    const beforeSave = expose(ctx, session);
    // A failure on the raw response (after `ctx.respond = false`) goes to Koa's onerror.
    const state = attachSession(core, transport, ctx.req, ctx.res, session, {
      fail: (err) =>
        core.hasErrorHandler ? core.handleError(err, ctx.req, ctx.res) : ctx.onerror(err as Error),
      abandonWhen: isFailedStatus,
      keys: [ctx],
      beforeSave,
    });
    return next().then(
      () => saveAfterDownstream(ctx, state),
      (err: unknown) => {
        // A throw from downstream commits nothing; with keepOnThrow the response's status
        // decides when it is written (an error handler's redirect commits, a 5xx does not).
        if (!keepOnThrow) abandonSessions(state);
        throw err;
      },
    );
  };

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
