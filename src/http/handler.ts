/**
 * node:http LoadAndSave (`sessions.handler(next)`): load the session before the handler, guard
 * the response so the session is committed before its first byte, and route failures to the
 * manager's error path.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { resolveTransport, type Transport, type TransportOptions } from "../options.ts";
import type { Session } from "../session.ts";
import { isPromiseLike } from "../store.ts";
import type { SessionCore } from "./core.ts";
import { abandonSessions, guardResponse } from "./guard.ts";
import { bindSession, type RequestState } from "./request-state.ts";

/** Options of `sessions.handler(next, options)`: the token transport. */
export type HandlerOptions = TransportOptions;

/** Options for adapters that route errors and statuses their framework's way. */
export interface AttachOptions {
  /** Receives a failed commit instead of the manager's error path (e.g. Express's `next`). */
  fail?: (err: unknown) => void;
  /** True for a status that must not commit the session (e.g. 404, 5xx). */
  abandonWhen?: (statusCode: number) => boolean;
  /** Further objects `sessions.from(...)` should find the session by (a framework's request). */
  keys?: readonly object[];
  /** Called just before each save of the session (see `SessionEntry.beforeSave`). */
  beforeSave?: () => void;
}

/** The default of {@link attachSession}'s options: one object, not one per request. */
const NO_OPTIONS: AttachOptions = Object.freeze({});

/**
 * Puts `session` on the request and guards its response: the one step every node:http-based
 * adapter shares.
 * @returns the request's state.
 */
export function attachSession<Data extends object>(
  core: SessionCore<Data>,
  transport: Transport,
  req: IncomingMessage,
  res: ServerResponse,
  session: Session<Data>,
  options: AttachOptions = NO_OPTIONS,
): RequestState {
  const keys = options.keys === undefined ? [req, res] : [req, res, ...options.keys];
  const state = bindSession(core, session, transport, keys, options);
  guardResponse(req, res, state);
  return state;
}

/**
 * Loads the session of a request (its cookie or transport header), then calls `onSession`, or
 * `onError` when the store fails: synchronously when the store answers synchronously.
 */
export function loadSession<Data extends object>(
  core: SessionCore<Data>,
  transport: Transport,
  headers: IncomingMessage["headers"],
  onSession: (session: Session<Data>) => void,
  onError: (err: unknown) => void,
): void {
  let loaded: Session<Data> | Promise<Session<Data>>;
  try {
    loaded = core.load(core.readToken(headers, transport));
  } catch (err) {
    onError(err);
    return;
  }
  if (isPromiseLike(loaded)) loaded.then(onSession, onError);
  else onSession(loaded);
}

/**
 * Builds the node:http request listener for `sessions.handler(next, options)`.
 * @returns a `(req, res)` listener.
 * @throws TypeError when `options.header` is not a header name.
 */
export function createHandler<Data extends object>(
  core: SessionCore<Data>,
  next: (req: IncomingMessage, res: ServerResponse) => unknown,
  options?: HandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  if (typeof next !== "function") {
    throw new TypeError(`handler needs a function: ${typeof next}`);
  }
  const transport = resolveTransport(options);
  const failed = (state: RequestState, req: IncomingMessage, res: ServerResponse, err: unknown) => {
    // A handler that ended its response and then threw leaves the response as it ended it,
    // with its sessions (a commit still running then, on an async store, goes on).
    if (!res.writableEnded) abandonSessions(state);
    core.handleError(err, req, res);
  };
  // No closure per request on the synchronous path: this runs for every request.
  const run = (req: IncomingMessage, res: ServerResponse, session: Session<Data>): void => {
    const state = attachSession(core, transport, req, res, session);
    let result: unknown;
    try {
      result = next(req, res);
    } catch (err) {
      failed(state, req, res, err);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(undefined, (err: unknown) => failed(state, req, res, err));
    }
  };
  return function loadAndSave(req: IncomingMessage, res: ServerResponse): void {
    let loaded: Session<Data> | Promise<Session<Data>>;
    try {
      loaded = core.load(core.readToken(req.headers, transport));
    } catch (err) {
      core.handleError(err, req, res);
      return;
    }
    if (!isPromiseLike(loaded)) {
      run(req, res, loaded);
      return;
    }
    loaded.then(
      (session) => run(req, res, session),
      (err: unknown) => core.handleError(err, req, res),
    );
  };
}
