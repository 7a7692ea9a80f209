/**
 * Sessions for the Fetch API: `fetchSession(sessions, handler)` wraps a
 * `(request, session) => Response` handler into a `(request) => Promise<Response>` one that
 * Bun (`Bun.serve`), Deno (`Deno.serve`), Cloudflare-style `export default { fetch }` modules
 * and every fetch-based framework can serve. It loads the session from the request's `Cookie`
 * (or the transport header), runs the handler, commits the session once the handler has
 * returned its Response and before that Response is handed back — so a streamed body is
 * committed before its first byte — and adds `Set-Cookie`, `Vary` and `Cache-Control` as
 * `sessions.handler` does (copying a Response whose headers are immutable, as `fetch()` and
 * `Response.redirect()` give).
 *
 * Frameworks that build their own Response (React Router / Remix loaders and actions,
 * SvelteKit, Astro) use the manager's two-step form instead: `sessions.loadRequest(request)`,
 * then `sessions.commitCookie(session)` or `sessions.commitHeaders(session)`.
 *
 * @example
 * import { SessionManager } from "scs-ts";
 * import { fetchSession } from "scs-ts/fetch";
 *
 * const sessions = new SessionManager<{ visits: number }>();
 * const handle = fetchSession(sessions, async (request, session) => {
 *   session.put("visits", session.getNumber("visits") + 1);
 *   return new Response(`visits: ${session.getNumber("visits")}`);
 * });
 * Bun.serve({ fetch: handle }); // or Deno.serve(handle), or export default { fetch: handle }
 * @module
 */

import { withSessionHeaders } from "./fetch/headers.ts";
import {
  defaultErrorResponse,
  discardBody,
  loadFromHeaders,
  saveForResponse,
} from "./fetch/request.ts";
import { coreOf } from "./http/core.ts";
import { bindSession } from "./http/request-state.ts";
import type { SessionManager } from "./manager.ts";
import { resolveTransport, type TransportOptions } from "./options.ts";
import { redact } from "./redact.ts";
import type { Session } from "./session.ts";
import { isPromiseLike } from "./store.ts";

export type { RequestLike } from "./fetch/request.ts";

/**
 * Answers a request whose session could not be loaded or saved (store down, codec refusal).
 * Its Response is sent instead of the handler's; it must not contain the session token.
 */
export type FetchErrorHandler = (err: unknown, request: Request) => Response | Promise<Response>;

/** Options of `fetchSession(sessions, handler, options)`. */
export interface FetchSessionOptions extends TransportOptions {
  /**
   * Answers a failed session load or save. A handler that throws or returns no Response gets
   * the default answer (and a log line).
   * @default log the error (tokens redacted), then 503 `Retry-After: 1` for
   *   `StoreUnavailableError`, else 500, plain text, `Cache-Control: no-store`
   */
  onError?: FetchErrorHandler;
}

/**
 * The handler `fetchSession` wraps: the request, its session, then whatever the runtime
 * passes after the request (Bun's server, Deno's connection info, a Worker's env and context).
 */
export type SessionFetchHandler<Data extends object, Args extends unknown[] = []> = (
  request: Request,
  session: Session<Data>,
  ...args: Args
) => Response | Promise<Response>;

/**
 * Wraps `handler` so each request runs with its session, loaded before and committed after.
 *
 * - The session is also at `sessions.from(request)`.
 * - An unmodified session sends no cookie, only `Vary: Cookie`; a destroyed one sends a
 *   deletion cookie; `{ header: "X-Session" }` carries the token in that header instead.
 * - A handler that throws (or rejects) commits nothing; its error goes on to the runtime's or
 *   framework's error path, as without sessions.
 * - A failed load or save goes to `options.onError` (default 500/503, see
 *   {@link FetchSessionOptions}); the handler's Response is then not sent.
 *
 * @param sessions the session manager.
 * @param handler `(request, session, ...rest) => Response`.
 * @param options `header` (the token transport) and `onError`.
 * @returns a `(request, ...rest) => Promise<Response>` fetch handler.
 * @throws TypeError when `handler` is not a function, `options.header` is not a header name or
 *   `options.onError` is not a function.
 * @example
 * Deno.serve(fetchSession(sessions, (request, session) => new Response(session.getString("name"))));
 */
export function fetchSession<Data extends object, Args extends unknown[] = []>(
  sessions: SessionManager<Data>,
  handler: SessionFetchHandler<Data, Args>,
  options: FetchSessionOptions = {},
): (request: Request, ...args: Args) => Promise<Response> {
  const core = coreOf<Data>(sessions);
  if (typeof handler !== "function") {
    throw new TypeError(`option handler is invalid: ${typeof handler} (expected a function)`);
  }
  const onError = options.onError;
  if (onError !== undefined && typeof onError !== "function") {
    throw new TypeError(`option onError is invalid: ${typeof onError} (expected a function)`);
  }
  const transport = resolveTransport(options);

  const failed = async (err: unknown, request: Request): Promise<Response> => {
    if (onError !== undefined) {
      try {
        const answer = await onError(err, request);
        if (answer instanceof Response) return answer;
        core.logger.error("scs-ts: fetchSession's onError returned no Response");
      } catch (thrown) {
        core.logger.error(`scs-ts: fetchSession's onError threw: ${redact(thrown)}`);
      }
    }
    return defaultErrorResponse(core.logger, err);
  };

  return async function sessionFetch(request: Request, ...args: Args): Promise<Response> {
    let session: Session<Data>;
    try {
      const loaded = loadFromHeaders(core, request.headers, transport);
      session = isPromiseLike(loaded) ? await loaded : loaded;
    } catch (err) {
      return failed(err, request);
    }
    bindSession(core, session, transport, [request]);
    const response = await handler(request, session, ...args);
    if (typeof response !== "object" || response === null) {
      throw new TypeError(`fetchSession's handler returned ${String(response)}, not a Response`);
    }
    // A network error (Response.error()) has no head to carry a session: passed on as it is,
    // nothing committed.
    if (response.type === "error") return response;
    let header: Awaited<ReturnType<typeof saveForResponse>>;
    try {
      const saved = saveForResponse(core, session, transport);
      header = isPromiseLike(saved) ? await saved : saved;
    } catch (err) {
      discardBody(response);
      return failed(err, request);
    }
    return withSessionHeaders(response, transport, header);
  };
}
