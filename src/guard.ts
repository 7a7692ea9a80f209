/**
 * The response guard: wraps a ServerResponse's writeHead/write/end/flushHeaders so that
 * whichever comes first commits the session, and output waits (queued in order) while an async
 * commit runs — a client never receives a response whose session write failed. Used by
 * `handler` and by the Express and Koa adapters.
 * @module
 */
import { type IncomingMessage, ServerResponse } from "node:http";
import type { SessionHeader, SessionManager } from "./manager.ts";
import type { Transport } from "./options.ts";
import { absorbHeaders, dropRepresentationHeaders, setSessionHeaders } from "./response-headers.ts";
import { type Session, sessionInternals } from "./session.ts";
import { isPromiseLike } from "./store.ts";

type Method = (...args: unknown[]) => unknown;

const WAITING = 0; // no output yet
const COMMITTING = 1; // an async commit runs; output is queued
const SENT = 2; // headers are out (or the error path took over)

/** One session riding on a response (several when managers are nested). */
interface GuardEntry<Data extends object = object> {
  manager: SessionManager<Data>;
  transport: Transport;
  req: IncomingMessage;
  session: Session<Data>;
  /** the session's change counter when it was last committed (or loaded) */
  committedChanges: number;
  /** set when the handler failed or the commit failed: never commit this session again */
  abandoned: boolean;
  fail: ((err: unknown) => void) | undefined;
  abandonWhen: ((statusCode: number) => boolean) | undefined;
}

interface GuardState<Data extends object = object> extends GuardEntry<Data> {
  phase: number;
  queue: [Method, unknown[]][] | undefined;
  originals: Record<Wrapped, Method>;
  /** sessions of further managers guarding the same response */
  extra: GuardEntry[] | undefined;
}

/** A failed commit of one entry, carried through Promise.all. */
class EntryFailure {
  constructor(
    readonly entry: GuardEntry,
    readonly err: unknown,
  ) {}
}

/** Options of {@link guardResponse}, for adapters that route errors to their framework. */
export interface GuardOptions {
  /** Receives a failed commit instead of `manager.handleError` (e.g. Express's `next(err)`). */
  onError?: (err: unknown) => void;
  /** Checked before the commit with the response status: true = the request failed, do not commit. */
  abandonWhen?: (statusCode: number) => boolean;
}

type GuardedResponse = ServerResponse;

type Wrapped = "writeHead" | "write" | "end" | "flushHeaders";
const WRAPPED: readonly Wrapped[] = ["writeHead", "write", "end", "flushHeaders"];

// Per response, in a WeakMap rather than a property: frameworks such as Express give every
// response its own prototype, after which each property added to it costs microseconds.
const states = new WeakMap<object, GuardState>();

// Plain node:http responses keep it in a symbol property instead: there a property is cheap
// and a WeakMap entry per response costs more (measured: about a third of the throughput).
const kGuard = Symbol("scs-ts.guard");

function stateOf(res: object): GuardState {
  return (res as { [kGuard]?: GuardState })[kGuard] ?? states.get(res)!;
}

function findState(res: object): GuardState | undefined {
  return (res as { [kGuard]?: GuardState })[kGuard] ?? states.get(res);
}

// The methods as they were before wrapping (inherited, or another middleware's own wrappers).
function original(res: GuardedResponse, name: Wrapped): Method {
  return stateOf(res).originals[name];
}

/** For each framework response prototype: the same prototype with the four methods guarded. */
const guardedPrototypes = new WeakMap<
  object,
  { proto: object; originals: Record<Wrapped, Method> }
>();

function guardedPrototypeOf(proto: Record<Wrapped, Method>): {
  proto: object;
  originals: Record<Wrapped, Method>;
} {
  let guarded = guardedPrototypes.get(proto);
  if (guarded === undefined) {
    guarded = {
      proto: Object.create(proto, {
        writeHead: { value: guardedWriteHead, writable: true, configurable: true },
        write: { value: guardedWrite, writable: true, configurable: true },
        end: { value: guardedEnd, writable: true, configurable: true },
        flushHeaders: { value: guardedFlushHeaders, writable: true, configurable: true },
      }) as object,
      originals: {
        writeHead: proto.writeHead,
        write: proto.write,
        end: proto.end,
        flushHeaders: proto.flushHeaders,
      },
    };
    guardedPrototypes.set(proto, guarded);
    guardedPrototypes.set(guarded.proto, guarded); // already guarded: reuse as is
  }
  return guarded;
}

function hasOwnWrappedMethod(res: object): boolean {
  for (const name of WRAPPED) if (Object.hasOwn(res, name)) return true;
  return false;
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
  // Every field spelled out, not `{ ...entry, phase, ... }`: that spread copy cost ~4 µs per
  // request (the costliest line in the HTTP bench profile) and left the state a slow object.
  const state: GuardState<Data> = {
    manager,
    transport,
    req,
    session,
    committedChanges: sessionInternals.changes(session),
    abandoned: false,
    fail: options?.onError,
    abandonWhen: options?.abandonWhen,
    phase: WAITING,
    queue: undefined,
    extra: undefined,
    originals: undefined as unknown as Record<Wrapped, Method>,
  };
  const existing = findState(res);
  if (existing !== undefined) {
    // Another manager already guards this response: its entry rides on those wrappers.
    existing.extra ??= [];
    existing.extra.push(state as unknown as GuardEntry);
    return;
  }
  const proto = Object.getPrototypeOf(res) as Record<Wrapped, Method>;
  if (proto !== ServerResponse.prototype && !hasOwnWrappedMethod(res)) {
    states.set(res, state as unknown as GuardState);
    // A framework's own response prototype (Express): swap in a guarded copy of it, cached,
    // instead of adding four properties to this response.
    const guarded = guardedPrototypeOf(proto);
    state.originals = guarded.originals;
    if (guarded.proto !== proto) Object.setPrototypeOf(res, guarded.proto);
    return;
  }
  state.originals = {
    writeHead: res.writeHead as Method,
    write: res.write as Method,
    end: res.end as Method,
    flushHeaders: res.flushHeaders as Method,
  };
  const own = res as unknown as Record<Wrapped, unknown> & { [kGuard]: unknown };
  own[kGuard] = state;
  own.writeHead = guardedWriteHead;
  own.write = guardedWrite;
  own.end = guardedEnd;
  own.flushHeaders = guardedFlushHeaders;
}

/**
 * Marks the request's session as not to be committed (the handler failed), so the error
 * response carries no session cookie.
 */
export function abandonSession(res: ServerResponse): void {
  const state = findState(res);
  if (state === undefined) return;
  state.abandoned = true;
  if (state.extra !== undefined) for (const entry of state.extra) entry.abandoned = true;
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
  const state = stateOf(this);
  const end = original(this, "end");
  if (state.phase !== SENT) return intercept(this, end, args, this);
  // Headers are out: a session changed since its commit is committed again before the end,
  // and a failure aborts the connection rather than completing the response.
  if (state.extra === undefined && !changedSinceCommit(state)) return end.apply(this, args);
  let pending: Promise<unknown>[] | undefined;
  for (const entry of entriesOf(state)) {
    if (!changedSinceCommit(entry)) continue;
    const session = entry.session;
    entry.committedChanges = sessionInternals.changes(session);
    let committed: unknown;
    try {
      committed = entry.manager.commitAwaitable(session);
    } catch (err) {
      entry.abandoned = true;
      reportError(this, entry, err);
      return this;
    }
    if (isPromiseLike(committed)) {
      pending ??= [];
      pending.push(
        committed.then(undefined, (err: unknown) => Promise.reject(new EntryFailure(entry, err))),
      );
    }
  }
  if (pending === undefined) return end.apply(this, args);
  Promise.all(pending).then(
    () => end.apply(this, args),
    (failure: EntryFailure) => {
      failure.entry.abandoned = true;
      reportError(this, failure.entry, failure.err);
    },
  );
  return this;
}

/** Whether the entry's session was modified after its commit and can still be committed. */
function changedSinceCommit(entry: GuardEntry): boolean {
  const session = entry.session;
  return (
    !entry.abandoned &&
    session.status === "modified" &&
    sessionInternals.changes(session) !== entry.committedChanges &&
    sessionInternals.storeKey(session) !== ""
  );
}

function entriesOf(state: GuardState): GuardEntry[] {
  return state.extra === undefined ? [state] : [state, ...state.extra];
}

function intercept(
  res: GuardedResponse,
  method: Method,
  args: unknown[],
  queuedReturn: unknown,
): unknown {
  const state = stateOf(res);
  if (state.phase === SENT) return method.apply(res, args);
  if (state.phase === COMMITTING) {
    state.queue!.push([method, args]);
    return queuedReturn;
  }
  const isWriteHead = method === state.originals.writeHead;
  if (isWriteHead) args = absorbHeaders(res, args);
  const status = isWriteHead && typeof args[0] === "number" ? args[0] : res.statusCode;
  if (state.extra === undefined) {
    // One session: the common case, without arrays or Promise.all.
    let header: SessionHeader | undefined | Promise<SessionHeader | undefined>;
    try {
      header = save(state, status);
    } catch (err) {
      failCommit(res, state, state, err);
      return queuedReturn;
    }
    if (!isPromiseLike(header)) {
      state.phase = SENT;
      finishEntry(res, state, header);
      return method.apply(res, args);
    }
    state.phase = COMMITTING;
    state.queue = [[method, args]];
    header.then(
      (value) => {
        finishEntry(res, state, value);
        replay(res, state);
      },
      (err: unknown) => failCommit(res, state, state, err),
    );
    return queuedReturn;
  }
  const pending: Promise<unknown>[] = [];
  for (const entry of entriesOf(state)) {
    let header: SessionHeader | undefined | Promise<SessionHeader | undefined>;
    try {
      header = save(entry, status);
    } catch (err) {
      failCommit(res, state, entry, err);
      return queuedReturn;
    }
    if (isPromiseLike(header)) {
      pending.push(
        header.then(
          (value) => finishEntry(res, entry, value),
          (err: unknown) => Promise.reject(new EntryFailure(entry, err)),
        ),
      );
    } else {
      finishEntry(res, entry, header);
    }
  }
  if (pending.length === 0) {
    state.phase = SENT;
    return method.apply(res, args);
  }
  state.phase = COMMITTING;
  state.queue = [[method, args]];
  Promise.all(pending).then(
    () => replay(res, state),
    (failure: EntryFailure) => failCommit(res, state, failure.entry, failure.err),
  );
  return queuedReturn;
}

function save(
  entry: GuardEntry,
  status: number,
): SessionHeader | undefined | Promise<SessionHeader | undefined> {
  if (!entry.abandoned && entry.abandonWhen !== undefined) {
    entry.abandoned = entry.abandonWhen(status);
  }
  return entry.abandoned ? undefined : entry.manager.saveAwaitable(entry.session, entry.transport);
}

function finishEntry(
  res: ServerResponse,
  entry: GuardEntry,
  header: SessionHeader | undefined,
): void {
  entry.committedChanges = sessionInternals.changes(entry.session);
  setSessionHeaders(res, entry.transport, header);
}

function replay(res: GuardedResponse, state: GuardState): void {
  const queue = state.queue!;
  state.queue = undefined;
  state.phase = SENT;
  for (const [queued, queuedArgs] of queue) queued.apply(res, queuedArgs);
}

function failCommit(
  res: GuardedResponse,
  state: GuardState,
  entry: GuardEntry,
  err: unknown,
): void {
  state.phase = SENT;
  state.queue = undefined;
  entry.abandoned = true;
  abandonSession(res);
  // The route's Content-Length, Content-Type... describe a body that will not be sent; an error
  // handler (ours, onError, or the framework's) writing its own body must not inherit them.
  dropRepresentationHeaders(res);
  reportError(res, entry, err);
}

function reportError(res: GuardedResponse, entry: GuardEntry, err: unknown): void {
  if (entry.fail !== undefined) entry.fail(err);
  else entry.manager.handleError(err, entry.req, res);
}
