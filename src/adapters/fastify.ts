/**
 * Fastify adapter (Fastify 5): `await app.register(fastifySession, { sessions })` loads the
 * session in an `onRequest` hook and commits it in `onSend` — before the first byte, stream
 * payloads included — with the headers of `sessions.handler`. The plugin is not encapsulated
 * (like `fastify-plugin`), so its hooks apply to the whole app. The session is at
 * `request.session` and `sessions.from(request)` (or `sessions.from(request.raw)`).
 *
 * Type `request.session` by declaring your data in {@link FastifySessionData}.
 *
 * @example
 * import Fastify from "fastify";
 * import { SessionManager } from "scs-ts";
 * import { fastifySession } from "scs-ts/fastify";
 *
 * declare module "scs-ts/fastify" {
 *   interface FastifySessionData { visits: number }
 * }
 * const sessions = new SessionManager<{ visits: number }>();
 * const app = Fastify();
 * await app.register(fastifySession, { sessions });
 * app.get("/", async (request) => {
 *   const visits = (request.session.get("visits") ?? 0) + 1;
 *   request.session.put("visits", visits);
 *   return `visits: ${visits}`;
 * });
 * @module
 */
import type { FastifyInstance } from "fastify";
import type { SessionManager } from "../manager.ts";
import type { TransportOptions } from "../options.ts";
import type { Session as ScsSession } from "../session.ts";
import type { RegisteredData } from "./common.ts";
import { installSessionHooks } from "./fastify-hooks.ts";

/**
 * The type of `request.session`'s data. Empty (untyped values) until you declare your keys:
 * `declare module "scs-ts/fastify" { interface FastifySessionData { userId: string } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the application's declaration merging
export interface FastifySessionData {}

declare module "fastify" {
  interface FastifyRequest {
    /** This request's session (scs-ts), typed by {@link FastifySessionData}. */
    session: ScsSession<RegisteredData<FastifySessionData>>;
  }
}

/** Options of `app.register(fastifySession, options)`. */
export interface FastifySessionOptions<Data extends object> extends TransportOptions {
  /** The session manager. */
  sessions: SessionManager<Data>;
}

/**
 * The Fastify plugin: `await app.register(fastifySession, { sessions })`. It is not
 * encapsulated (it carries `Symbol.for("skip-override")`, as `fastify-plugin` sets), so its
 * hooks and `request.session` apply app-wide. Load and commit errors go to Fastify's error
 * path (`onError` hooks, then `setErrorHandler`) unless the manager has `onError`, which then
 * answers on `reply.raw`.
 * A request that failed (a thrown handler, any error), a 404 or a 5xx never commit a session
 * changed on the way. Replies written around Fastify (`reply.hijack()`) are not committed.
 * @param fastify the instance `register` passes.
 * @param options `{ sessions, header? }`; `header: "X-Session"` carries the token in a header.
 * @param done called when the hooks are installed (with a TypeError for bad options).
 */
export function fastifySession<Data extends object>(
  fastify: FastifyInstance,
  options: FastifySessionOptions<Data>,
  done: (err?: Error) => void,
): void {
  installSessionHooks(fastify, options, done, false);
}

// Not encapsulated, as `fastify-plugin` would make it: hooks and request.session apply app-wide.
const meta = fastifySession as unknown as Record<symbol, unknown>;
meta[Symbol.for("skip-override")] = true;
meta[Symbol.for("fastify.display-name")] = "scs-ts";
