/**
 * The hooks of the Fastify entries (`scs-ts/fastify` and the `scs-ts/fastify-session` drop-in):
 * load the session in `onRequest`, commit it in `onSend` with the headers of `sessions.handler`,
 * route failures to Fastify's error path.
 * @module
 */
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from "fastify";
import { coreOf, type SessionCore, type SessionHeader } from "../http/core.ts";
import { type HeaderBag, ROUTE_ANSWER_HEADERS, setSessionHeaders } from "../http/headers.ts";
import { bindSession, type SessionEntry, sessionEntryOf } from "../http/request-state.ts";
import { resolveTransport, type Transport } from "../options.ts";
import { type Session as ScsSession, sessionInternals } from "../session.ts";
import { isPromiseLike } from "../store.ts";
import { isFailedStatus } from "./common.ts";
import type { FastifySessionOptions } from "./fastify.ts";

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
 * Installs the session hooks on `fastify` (see `fastifySession` in `scs-ts/fastify`).
 * @param keepOnError whether a request whose handler threw may still commit when its error
 *   reply's status allows (the drop-in, as @fastify/session saves an error handler's reply);
 *   otherwise a thrown handler commits nothing.
 */
export function installSessionHooks<Data extends object>(
  fastify: FastifyInstance,
  options: FastifySessionOptions<Data>,
  done: (err?: Error) => void,
  keepOnError: boolean,
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
    // The route's answer will not be sent: not its representation, cookies, caching or redirect.
    for (const name of ROUTE_ANSWER_HEADERS) reply.removeHeader(name);
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

  if (!keepOnError) {
    fastify.addHook("onError", (request, _reply, _error, next) => {
      const entry = sessionEntryOf(request, core);
      if (entry !== undefined) entry.abandoned = true;
      next();
    });
  }

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
