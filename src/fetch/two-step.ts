/**
 * The two-step form of the Fetch API cycle, for frameworks that build their own Response
 * (React Router / Remix loaders and actions, SvelteKit, Astro): the manager's `loadRequest`,
 * `commitCookie` and `commitHeaders` are these.
 * @module
 */
import type { SessionCore } from "../http/core.ts";
import { bindSession } from "../http/request-state.ts";
import { resolveTransport, type Transport, type TransportOptions } from "../options.ts";
import type { Session } from "../session.ts";
import { addSessionHeaders } from "./headers.ts";
import { loadFromHeaders, type RequestLike, saveForResponse } from "./request.ts";

const COOKIE = resolveTransport();

function transportOf(options: TransportOptions | undefined): Transport {
  return options === undefined || options.header === undefined ? COOKIE : resolveTransport(options);
}

function checkRequest(request: RequestLike): void {
  const headers = (request as { headers?: unknown } | null)?.headers;
  if (
    typeof headers !== "object" ||
    headers === null ||
    typeof (headers as Headers).get !== "function"
  ) {
    throw new TypeError(
      `option request is invalid: ${String(request)} (expected a Request or an object with Headers)`,
    );
  }
}

/**
 * The session of a request, bound to it (`sessions.from(request)` finds it).
 * @returns the session (a fresh one for an absent, malformed, unknown or expired token).
 * @throws TypeError for something that is not a request; rejects when the store fails.
 */
export async function loadRequest<Data extends object>(
  core: SessionCore<Data>,
  request: RequestLike,
  options: TransportOptions | undefined,
): Promise<Session<Data>> {
  checkRequest(request);
  const transport = transportOf(options);
  const session = await loadFromHeaders(core, request.headers, transport);
  bindSession(core, session, transport, [request]);
  return session;
}

/**
 * Commits the session when modified (after its pending destroy/renewToken store work) and
 * locks its token.
 * @returns the value of the transport's response header: a `Set-Cookie` value (a deletion
 *   cookie for a destroyed session; with `{ header }` the token, or "" when destroyed), or
 *   undefined when there is nothing to send (unmodified).
 */
export async function commitCookie<Data extends object>(
  core: SessionCore<Data>,
  session: Session<Data>,
  options: TransportOptions | undefined,
): Promise<string | undefined> {
  const header = await saveForResponse(core, session, transportOf(options));
  return header?.value;
}

/**
 * {@link commitCookie}, as the headers to give the framework's Response: `Vary` always, and
 * the session's header with `Cache-Control: no-cache="<name>"` when there is one.
 * @returns a new Headers object.
 */
export async function commitHeaders<Data extends object>(
  core: SessionCore<Data>,
  session: Session<Data>,
  options: TransportOptions | undefined,
): Promise<Headers> {
  const transport = transportOf(options);
  const header = await saveForResponse(core, session, transport);
  const headers = new Headers();
  addSessionHeaders(headers, transport, header);
  return headers;
}
