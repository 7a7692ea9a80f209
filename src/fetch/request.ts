/**
 * The session cycle of a Fetch API request, shared by `fetchSession`, the manager's two-step
 * form (`loadRequest` / `commitCookie` / `commitHeaders`) and the Hono adapter: the token a
 * `Request` carries, and the answer to a failed load or save.
 * @module
 */
import { StoreUnavailableError } from "../errors.ts";
import type { SessionCore, SessionHeader } from "../http/core.ts";
import type { Logger, Transport } from "../options.ts";
import { redact } from "../redact.ts";
import { type Session, sessionInternals } from "../session.ts";
import type { Awaitable } from "../store.ts";

/** A Fetch API `Request`, or anything with its `headers` (the two-step form takes either). */
export interface RequestLike {
  readonly headers: Headers;
}

/**
 * The well-formed token the request's `Cookie` (or transport header) carries.
 * @returns the token, or undefined when there is none or it is malformed.
 */
export function requestToken<Data extends object>(
  core: SessionCore<Data>,
  headers: Headers,
  transport: Transport,
): string | undefined {
  const value = headers.get(transport.headerKey) ?? undefined;
  return core.readToken({ [transport.headerKey]: value }, transport);
}

/**
 * Loads the session of a request (see {@link requestToken}): synchronously when the store
 * answers synchronously.
 * @returns the session.
 * @throws (or rejects) when the store fails.
 */
export function loadFromHeaders<Data extends object>(
  core: SessionCore<Data>,
  headers: Headers,
  transport: Transport,
): Awaitable<Session<Data>> {
  return core.load(requestToken(core, headers, transport));
}

/**
 * Saves a session at the end of a request: waits for its store work (destroy, renewToken,
 * mergeSession), commits it when modified, and locks its token (a renewal after this could not
 * be sent).
 * @returns the header to send, or undefined when there is none (unmodified, or retired by a
 *   concurrent request).
 * @throws (or rejects) when the store or the codec fails.
 */
export function saveForResponse<Data extends object>(
  core: SessionCore<Data>,
  session: Session<Data>,
  transport: Transport,
): Awaitable<SessionHeader | undefined> {
  sessionInternals.lockToken(session);
  return core.save(session, transport);
}

/**
 * The default answer to a failed load or save: logs the error (tokens redacted) and answers
 * 503 `Retry-After: 1` for {@link StoreUnavailableError}, else 500, with a plain body that
 * leaks nothing and `Cache-Control: no-store`.
 * @returns the error response.
 */
export function defaultErrorResponse(logger: Logger, err: unknown): Response {
  try {
    logger.error(`scs-ts: session error: ${redact(err)}`);
  } catch {
    // a throwing logger must not stop the answer
  }
  const unavailable = err instanceof StoreUnavailableError;
  const headers: Record<string, string> = {
    "Content-Type": "text/plain; charset=utf-8",
    "Cache-Control": "no-store",
  };
  if (unavailable) headers["Retry-After"] = "1";
  return new Response(unavailable ? "Service Unavailable\n" : "Internal Server Error\n", {
    status: unavailable ? 503 : 500,
    headers,
  });
}

/** Releases a response body that will not be sent (its stream would otherwise stay open). */
export function discardBody(response: Response): void {
  const body = response.body;
  if (body === null || body.locked) return;
  body.cancel().then(undefined, () => undefined);
}
