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
import type { Middleware } from "koa";
import { coreOf } from "../http/core.ts";
import type { SessionManager } from "../manager.ts";
import { resolveTransport, type TransportOptions } from "../options.ts";
import type { Session } from "../session.ts";
import type { RegisteredData } from "./common.ts";
import { koaSessionChain } from "./koa-chain.ts";

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
  return koaSessionChain(core, transport, (ctx, session) => {
    (ctx as { session: unknown }).session = session;
    return undefined;
  });
}
