/**
 * node:http LoadAndSave: load the session before the handler, commit it before the response
 * leaves. The response's writeHead/write/end/flushHeaders are wrapped so that whichever comes
 * first commits the session, and output waits (queued in order) while an async commit runs:
 * a client never receives a response whose session write failed.
 * @module
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { SessionHeader, SessionManager } from "./manager.ts";
import { resolveTransport, type Transport, type TransportOptions } from "./options.ts";
import { type Session, sessionInternals } from "./session.ts";
import { isPromiseLike } from "./store.ts";

/** Options of `sessions.handler(next, options)`: the token transport. */
export type HandlerOptions = TransportOptions;

type Method = (...args: unknown[]) => unknown;

const WAITING = 0; // no output yet
const COMMITTING = 1; // an async commit runs; output is queued
const SENT = 2; // headers are out (or the error path took over)

interface GuardState<Data extends object = object> {
  manager: SessionManager<Data>;
  transport: Transport;
  req: IncomingMessage;
  session: Session<Data>;
  phase: number;
  queue: [Method, unknown[]][] | undefined;
  /** the session's change counter when it was last committed (or loaded) */
  committedChanges: number;
  /** set when the handler failed or the commit failed: never commit this session again */
  abandoned: boolean;
  originals: Record<Wrapped, Method>;
  fail: ((err: unknown) => void) | undefined;
  abandonWhen: ((statusCode: number) => boolean) | undefined;
}

/** Options of {@link guardResponse}, for adapters that route errors to their framework. */
export interface GuardOptions {
  /** Receives a failed commit instead of `manager.handleError` (e.g. Express's `next(err)`). */
  onError?: (err: unknown) => void;
  /** Checked before the commit with the response status: true = the request failed, do not commit. */
  abandonWhen?: (statusCode: number) => boolean;
}

/** Where response headers are read and written: a `ServerResponse`, or an adapter's wrapper. */
export interface HeaderBag {
  getHeader(name: string): number | string | string[] | null | undefined;
  setHeader(name: string, value: string | string[]): unknown;
}

const kGuard = Symbol("scs-ts.guard");
type GuardedResponse = ServerResponse & { [kGuard]: GuardState };

type Wrapped = "writeHead" | "write" | "end" | "flushHeaders";

// The methods as they were before wrapping (inherited, or another middleware's own wrappers).
function original(res: GuardedResponse, name: Wrapped): Method {
  return res[kGuard].originals[name];
}

/**
 * Wraps `res` so the session is committed (and its header set) before any output, and so a
 * session changed after the headers went out is still committed before the response ends.
 * Used by `handler` and by the Express and Koa adapters.
 */
export function guardResponse<Data extends object>(
  manager: SessionManager<Data>,
  transport: Transport,
  req: IncomingMessage,
  res: ServerResponse,
  session: Session<Data>,
  options?: GuardOptions,
): void {
  const state: GuardState<Data> = {
    manager,
    transport,
    req,
    session,
    phase: WAITING,
    queue: undefined,
    committedChanges: sessionInternals.changes(session),
    abandoned: false,
    originals: {
      writeHead: res.writeHead as Method,
      write: res.write as Method,
      end: res.end as Method,
      flushHeaders: res.flushHeaders as Method,
    },
    fail: options?.onError,
    abandonWhen: options?.abandonWhen,
  };
  const guarded = res as unknown as Record<Wrapped, unknown> & { [kGuard]: unknown };
  guarded[kGuard] = state;
  guarded.writeHead = guardedWriteHead;
  guarded.write = guardedWrite;
  guarded.end = guardedEnd;
  guarded.flushHeaders = guardedFlushHeaders;
}

/**
 * Marks the request's session as not to be committed (the handler failed), so the error
 * response carries no session cookie.
 */
export function abandonSession(res: ServerResponse): void {
  const state = (res as Partial<GuardedResponse>)[kGuard];
  if (state !== undefined) state.abandoned = true;
}

function guardedWriteHead(this: GuardedResponse, ...args: unknown[]): unknown {
  return intercept(this, original(this, "writeHead"), args, this);
}

function guardedWrite(this: GuardedResponse, ...args: unknown[]): unknown {
  return intercept(this, original(this, "write"), args, true);
}

function guardedFlushHeaders(this: GuardedResponse): void {
  intercept(this, original(this, "flushHeaders"), [], undefined);
}

function guardedEnd(this: GuardedResponse, ...args: unknown[]): unknown {
  const state = this[kGuard];
  const end = original(this, "end");
  if (state.phase !== SENT) return intercept(this, end, args, this);
  // Headers are out: a session changed since its commit is committed again before the end,
  // and a failure aborts the connection rather than completing the response.
  const session = state.session;
  if (
    state.abandoned ||
    session.status !== "modified" ||
    sessionInternals.changes(session) === state.committedChanges ||
    sessionInternals.storeKey(session) === ""
  ) {
    return end.apply(this, args);
  }
  state.committedChanges = sessionInternals.changes(session);
  let committed: unknown;
  try {
    committed = state.manager.commitAwaitable(session);
  } catch (err) {
    state.abandoned = true;
    reportError(this, state, err);
    return this;
  }
  if (isPromiseLike(committed)) {
    committed.then(
      () => end.apply(this, args),
      (err: unknown) => {
        state.abandoned = true;
        reportError(this, state, err);
      },
    );
    return this;
  }
  return end.apply(this, args);
}

function intercept(
  res: GuardedResponse,
  method: Method,
  args: unknown[],
  queuedReturn: unknown,
): unknown {
  const state = res[kGuard];
  if (state.phase === SENT) return method.apply(res, args);
  if (state.phase === COMMITTING) {
    state.queue!.push([method, args]);
    return queuedReturn;
  }
  const isWriteHead = method === state.originals.writeHead;
  if (isWriteHead) args = absorbHeaders(res, args);
  if (state.abandonWhen !== undefined && !state.abandoned) {
    const status = isWriteHead && typeof args[0] === "number" ? args[0] : res.statusCode;
    state.abandoned = state.abandonWhen(status);
  }
  let header: SessionHeader | undefined | Promise<SessionHeader | undefined>;
  try {
    header = state.abandoned
      ? undefined
      : state.manager.saveAwaitable(state.session, state.transport);
  } catch (err) {
    failCommit(res, state, err);
    return queuedReturn;
  }
  if (isPromiseLike(header)) {
    state.phase = COMMITTING;
    state.queue = [[method, args]];
    header.then(
      (value) => {
        const queue = state.queue!;
        state.queue = undefined;
        sendHeaders(res, state, value);
        for (const [queued, queuedArgs] of queue) queued.apply(res, queuedArgs);
      },
      (err: unknown) => failCommit(res, state, err),
    );
    return queuedReturn;
  }
  sendHeaders(res, state, header);
  return method.apply(res, args);
}

function sendHeaders(
  res: ServerResponse,
  state: GuardState,
  header: SessionHeader | undefined,
): void {
  state.phase = SENT;
  state.committedChanges = sessionInternals.changes(state.session);
  setSessionHeaders(res, state.transport, header);
}

/**
 * Sets the headers of a session response: `Vary` always; when `header` is given, that header
 * (Set-Cookie is appended to others) and `Cache-Control: no-cache="<name>"`.
 * Shared by `handler` and the adapters.
 */
export function setSessionHeaders(
  res: HeaderBag,
  transport: Transport,
  header: SessionHeader | undefined,
): void {
  appendHeaderToken(res, "Vary", transport.vary);
  if (header === undefined) return;
  if (header.name === "Set-Cookie") {
    const existing = res.getHeader("Set-Cookie");
    if (existing === undefined || existing === null) res.setHeader("Set-Cookie", header.value);
    else if (Array.isArray(existing)) res.setHeader("Set-Cookie", [...existing, header.value]);
    else res.setHeader("Set-Cookie", [String(existing), header.value]);
  } else {
    res.setHeader(header.name, header.value);
  }
  appendHeaderToken(res, "Cache-Control", `no-cache="${header.name}"`);
}

/** Adds `token` to a comma-separated header unless already present. */
function appendHeaderToken(res: HeaderBag, name: string, token: string): void {
  const existing = res.getHeader(name);
  if (existing === undefined || existing === null) {
    res.setHeader(name, token);
    return;
  }
  const text = Array.isArray(existing) ? existing.join(", ") : String(existing);
  if (
    text
      .toLowerCase()
      .split(/\s*,\s*/)
      .includes(token.toLowerCase())
  )
    return;
  res.setHeader(name, `${text}, ${token}`);
}

function failCommit(res: GuardedResponse, state: GuardState, err: unknown): void {
  state.phase = SENT;
  state.queue = undefined;
  state.abandoned = true;
  reportError(res, state, err);
}

function reportError(res: GuardedResponse, state: GuardState, err: unknown): void {
  if (state.fail !== undefined) state.fail(err);
  else state.manager.handleError(err, state.req, res);
}

/**
 * Headers passed to `writeHead(status, [reason], headers)` take precedence over `setHeader`
 * ones in Node, which would drop the session cookie. Move them into `setHeader` first.
 */
function absorbHeaders(res: ServerResponse, args: unknown[]): unknown[] {
  const last = args.length > 1 ? args[args.length - 1] : undefined;
  if (last === undefined || last === null || typeof last !== "object") return args;
  if (Array.isArray(last)) {
    for (let i = 0; i + 1 < last.length; i += 2)
      res.appendHeader(String(last[i]), last[i + 1] as string);
  } else {
    for (const [name, value] of Object.entries(last as OutgoingHttpHeaders)) {
      if (value === undefined) continue;
      if (name.toLowerCase() === "set-cookie") res.appendHeader(name, value as string | string[]);
      else res.setHeader(name, value);
    }
  }
  return args.slice(0, -1);
}

/**
 * Builds the node:http request listener for `sessions.handler(next, options)`.
 * @returns a `(req, res)` listener.
 */
export function createHandler<Data extends object>(
  manager: SessionManager<Data>,
  next: (req: IncomingMessage, res: ServerResponse) => unknown,
  options?: HandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const transport = resolveTransport(options);
  const run = (req: IncomingMessage, res: ServerResponse, session: Session<Data>): void => {
    manager.attach(req, session);
    guardResponse(manager, transport, req, res, session);
    let result: unknown;
    try {
      result = next(req, res);
    } catch (err) {
      handlerFailed(manager, req, res, err);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(undefined, (err: unknown) => handlerFailed(manager, req, res, err));
    }
  };
  return function loadAndSave(req: IncomingMessage, res: ServerResponse): void {
    let loaded: Session<Data> | Promise<Session<Data>>;
    try {
      loaded = manager.loadAwaitable(manager.readToken(req.headers, transport));
    } catch (err) {
      manager.handleError(err, req, res);
      return;
    }
    if (isPromiseLike(loaded)) {
      loaded.then(
        (session) => run(req, res, session),
        (err: unknown) => manager.handleError(err, req, res),
      );
    } else {
      run(req, res, loaded);
    }
  };
}

function handlerFailed<Data extends object>(
  manager: SessionManager<Data>,
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
): void {
  abandonSession(res);
  manager.handleError(err, req, res);
}
