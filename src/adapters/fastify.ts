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
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from "fastify";
import { coreOf, type SessionCore, type SessionHeader } from "../http/core.ts";
import { type HeaderBag, setSessionHeaders } from "../http/headers.ts";
import { bindSession, type SessionEntry, sessionEntryOf } from "../http/request-state.ts";
import type { SessionManager } from "../manager.ts";
import { resolveTransport, type Transport, type TransportOptions } from "../options.ts";
import { type Session as ScsSession, sessionInternals } from "../session.ts";
import { isPromiseLike } from "../store.ts";
import { isFailedStatus, type RegisteredData } from "./common.ts";

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

// Reply headers through Fastify's own API, so they merge with the route's reply.header() calls.
class ReplyHeaders implements HeaderBag {
  constructor(readonly reply: FastifyReply) {}
  getHeader(name: string) {
    return this.reply.getHeader(name);
  }
  setHeader(name: string, value: string | string[]): void {
    // reply.header appends to an existing Set-Cookie; the value given is already the full list.
    if (this.reply.hasHeader(name)) this.reply.removeHeader(name);
    this.reply.header(name, value);
  }
}

function setHeaders(reply: FastifyReply, transport: Transport, header: SessionHeader | undefined) {
  setSessionHeaders(new ReplyHeaders(reply), transport, header);
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
  let core: SessionCore<Data>;
  let transport: Transport;
  try {
    core = coreOf<Data>(options?.sessions);
    transport = resolveTransport({ header: options.header });
  } catch (err) {
    done(err as Error);
    return;
  }
  const ownErrors = core.hasErrorHandler;
  // Per request nothing but the session entry: no closure, no WeakMap entry (the request's
  // entry, linked by request-state's symbol property, says whether the request failed).

  // onError answers on the raw response; Fastify must not write after it.
  const answerOwnError = (request: FastifyRequest, reply: FastifyReply, err: unknown) => {
    reply.hijack();
    core.handleError(err, request.raw, reply.raw);
  };

  const loadFailed = (
    request: FastifyRequest,
    reply: FastifyReply,
    next: HookHandlerDoneFunction,
    err: unknown,
  ): void => {
    if (!ownErrors) {
      next(err as Error);
      return;
    }
    answerOwnError(request, reply, err);
    next();
  };

  const start = (request: FastifyRequest, reply: FastifyReply, session: ScsSession<Data>): void => {
    bindSession(core, session, transport, [request, request.raw, reply.raw]);
    (request as { session: unknown }).session = session;
  };

  const saveFailed = (
    request: FastifyRequest,
    reply: FastifyReply,
    next: (err: Error | null, payload?: unknown) => void,
    entry: SessionEntry,
    err: unknown,
  ): void => {
    entry.abandoned = true; // the error reply's own onSend commits nothing
    if (!ownErrors) {
      next(err as Error);
      return;
    }
    // Fastify offers onSend no way to end the reply itself: onError has answered on the raw
    // response, so this hook never continues ('finish' still runs the onResponse hooks).
    answerOwnError(request, reply, err);
  };

  // null keeps the request shape stable; onRequest sets the real session.
  fastify.decorateRequest("session", null as never);

  fastify.addHook("onRequest", (request, reply, next: HookHandlerDoneFunction) => {
    let session: ScsSession<Data> | Promise<ScsSession<Data>>;
    try {
      session = core.load(core.readToken(request.headers, transport));
    } catch (err) {
      loadFailed(request, reply, next, err);
      return;
    }
    if (isPromiseLike(session)) {
      session.then(
        (s) => {
          start(request, reply, s);
          next();
        },
        (err: unknown) => loadFailed(request, reply, next, err),
      );
      return;
    }
    start(request, reply, session);
    next();
  });

  fastify.addHook("onError", (request, _reply, _error, next) => {
    const entry = sessionEntryOf(request, core);
    if (entry !== undefined) entry.abandoned = true;
    next();
  });

  fastify.addHook("onSend", (request, reply, payload, next) => {
    const entry = sessionEntryOf(request, core);
    if (entry === undefined) {
      next(null, payload);
      return;
    }
    if (entry.abandoned || request.is404 || isFailedStatus(reply.statusCode)) {
      setHeaders(reply, transport, undefined);
      next(null, payload);
      return;
    }
    const session = entry.session as unknown as ScsSession<Data>;
    // The head is built after this hook: a new token could no longer reach the client.
    sessionInternals.lockToken(session);
    let saved: SessionHeader | undefined | Promise<SessionHeader | undefined>;
    try {
      saved = core.save(session, transport);
    } catch (err) {
      saveFailed(request, reply, next, entry, err);
      return;
    }
    if (isPromiseLike(saved)) {
      saved.then(
        (header) => {
          setHeaders(reply, transport, header);
          next(null, payload);
        },
        (err: unknown) => saveFailed(request, reply, next, entry, err),
      );
      return;
    }
    setHeaders(reply, transport, saved);
    next(null, payload);
  });

  done();
}

// Not encapsulated, as `fastify-plugin` would make it: hooks and request.session apply app-wide.
const meta = fastifySession as unknown as Record<symbol, unknown>;
meta[Symbol.for("skip-override")] = true;
meta[Symbol.for("fastify.display-name")] = "scs-ts";
