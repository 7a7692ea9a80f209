/**
 * The response guard: a session is committed before the first byte of its response leaves,
 * and a session changed after the headers went out is committed before the response ends.
 *
 * It replaces four methods of one response object (own properties: no prototype is touched,
 * so Express sub-apps and any framework that resets prototypes keep it): `writeHead`, `write`,
 * `end` and `flushHeaders`. The first of them starts the save. A synchronous store answers at
 * once and the call goes straight to Node. An asynchronous one holds the response
 * ({@link HeldResponse}): the handler's calls are answered by Node's own code on a stand-in
 * and replayed on the real response once the commit succeeded. Session headers are applied in
 * one place, `writeHead` (Node's `write`, `end` and `flushHeaders` go through it too), just
 * before the response head is built.
 *
 * Failures: a commit that fails before the headers went out answers through the error path
 * (`onError`, the framework's, or 500/503) on the untouched response; the handler's later
 * calls are absorbed, so they cannot answer as if the commit had succeeded. After the headers
 * went out the connection is aborted instead.
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Transport } from "../options.ts";
import { sessionInternals } from "../session.ts";
import { isPromiseLike } from "../store.ts";
import type { SessionHeader } from "./core.ts";
import {
  dropRouteAnswerHeaders,
  type HeadersBefore,
  hasHeaderTable,
  injectWriteHeadHeaders,
  mergeWriteHeadArgs,
  setSessionHeaders,
  takeBackSessionHeaders,
} from "./headers.ts";
import { HeldResponse } from "./held-response.ts";
import { type RequestState, requestStateOf, type SessionEntry } from "./request-state.ts";

type Method = (this: ServerResponse, ...args: unknown[]) => unknown;
type Wrapped = "writeHead" | "write" | "end" | "flushHeaders";

/** No output yet. */
const OPEN = 0;
/** A commit runs; the response is held. */
const HELD = 1;
/** The sessions are saved (or nothing to save): calls go to Node. */
const SENT = 2;
/** A commit failed: the response belongs to the error path. */
const FAILED = 3;

/** One session's save; it is also the {@link SessionHeaders} its head carries. */
interface Saved {
  entry: SessionEntry;
  readonly transport: Transport;
  header: SessionHeader | undefined;
  /** The session's change counter when its save started. */
  changes: number;
  /** The response status the save was decided with. */
  status: number;
  /** Not saved: the request had failed (or the status said so). */
  skipped: boolean;
}

interface Guard {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly state: RequestState;
  readonly originals: Record<Wrapped, Method>;
  phase: number;
  held: HeldResponse | undefined;
  saved: Saved[];
  /** Saves run again because a session changed since its save (bounded by MAX_RESAVES). */
  resaves: number;
}

/**
 * How often a response saves its sessions again because one changed since its save, before
 * the head goes out with the last save: a value that differs each time it is read (a getter, a
 * `toJSON` with a counter) would otherwise be saved again for ever and the response never sent.
 */
const MAX_RESAVES = 8;

/** Marks the async context of the error path, whose calls pass after a failed commit. */
const errorPath = new AsyncLocalStorage<Guard>();

function guardOf(res: ServerResponse): Guard {
  return requestStateOf(res)!.guard as Guard;
}

/**
 * Guards `res` for the sessions in `state` (the entries added so far and any added later).
 * Idempotent per response: a second manager on the same request shares the guard.
 */
export function guardResponse(
  req: IncomingMessage,
  res: ServerResponse,
  state: RequestState,
): void {
  if (state.guard !== undefined) return;
  const own = res as unknown as Record<Wrapped, Method>;
  const guard: Guard = {
    req,
    res,
    state,
    originals: {
      writeHead: own.writeHead,
      write: own.write,
      end: own.end,
      flushHeaders: own.flushHeaders,
    },
    phase: OPEN,
    held: undefined,
    saved: [],
    resaves: 0,
  };
  state.guard = guard;
  own.writeHead = guardedWriteHead;
  own.write = guardedWrite;
  own.end = guardedEnd;
  own.flushHeaders = guardedFlushHeaders;
}

/** Marks every session of the request as not to be committed (the handler failed). */
export function abandonSessions(state: RequestState): void {
  for (const entry of state.entries) entry.abandoned = true;
}

function guardedWriteHead(this: ServerResponse, ...args: unknown[]): unknown {
  const guard = guardOf(this);
  if (guard.phase !== SENT || (!this.headersSent && stale(guard, statusOf(this, args)))) {
    return output(guard, "writeHead", args);
  }
  if (this.headersSent || guard.saved.length === 0) {
    return guard.originals.writeHead.apply(this, args);
  }
  return writeSessionHead(guard, this, args);
}

/** Builds the head now, with the saved sessions' headers put in, whatever the handler did since. */
function writeSessionHead(guard: Guard, res: ServerResponse, args: unknown[]): unknown {
  const sessions: readonly Saved[] = guard.saved;
  let call: unknown[];
  let before: HeadersBefore[] | undefined;
  if (!hasHeaderTable(res)) {
    // No header set yet: Node takes its "only writeHead headers" path, which keeps nothing of a
    // call it refuses. Ours go into the call, so that path stays exactly as without a session.
    call = injectWriteHeadHeaders(args, sessions);
  } else {
    before = [];
    for (const { transport, header } of sessions) {
      before.push(setSessionHeaders(res, transport, header));
    }
    call = args.length > 1 ? mergeWriteHeadArgs(args, sessions, false) : args;
  }
  let result: unknown;
  try {
    result = guard.originals.writeHead.apply(res, call);
  } catch (err) {
    // No head was built: take ours back out, so a later head carries the session as it is then.
    if (before !== undefined && !res.headersSent) {
      for (let i = 0; i < sessions.length; i++) {
        const { transport, header } = sessions[i]!;
        takeBackSessionHeaders(res, transport, header, before[i]!);
      }
    }
    throw err;
  }
  if (res.headersSent) lockTokens(guard);
  return result;
}

function guardedWrite(this: ServerResponse, ...args: unknown[]): unknown {
  const guard = guardOf(this);
  if (guard.phase === SENT && (this.headersSent || !stale(guard, this.statusCode))) {
    // A write can complete a Content-Length body: a session changed since its save is
    // committed before it, as before the end. A chunked body completes only at its end, so a
    // stream's writes go straight on.
    if (!this.headersSent || this.writableEnded || this.chunkedEncoding) {
      return guard.originals.write.apply(this, args);
    }
    return saveLateThen(guard, this, "write", args);
  }
  return output(guard, "write", args);
}

function guardedFlushHeaders(this: ServerResponse): void {
  const guard = guardOf(this);
  if (guard.phase === SENT && (this.headersSent || !stale(guard, this.statusCode))) {
    guard.originals.flushHeaders.apply(this, []);
    return;
  }
  output(guard, "flushHeaders", []);
}

function guardedEnd(this: ServerResponse, ...args: unknown[]): unknown {
  const guard = guardOf(this);
  if (guard.phase !== SENT || (!this.headersSent && stale(guard, this.statusCode))) {
    return output(guard, "end", args);
  }
  if (!this.headersSent || this.writableEnded) return guard.originals.end.apply(this, args);
  return saveLateThen(guard, this, "end", args);
}

/**
 * Headers are out: a session changed since its save (or with store work pending) is committed
 * before `method` (the end, or a write, which may complete the body) goes on; a failure aborts
 * the connection rather than letting the response complete.
 * @returns what the call returns (the response held meanwhile answers it).
 */
function saveLateThen(
  guard: Guard,
  res: ServerResponse,
  method: "write" | "end",
  args: unknown[],
): unknown {
  let late: Promise<void>[] | undefined;
  try {
    for (const saved of guard.saved) {
      if (!changedSince(saved)) continue;
      saved.changes = sessionInternals.changes(saved.entry.session);
      const done = saved.entry.core.saveLate(saved.entry.session);
      if (isPromiseLike(done)) {
        late ??= [];
        late.push(done);
      }
    }
  } catch (err) {
    abort(guard, err);
    return method === "end" ? res : false;
  }
  if (late === undefined) return guard.originals[method].apply(res, args);
  const held = new HeldResponse(guard.req, res, true);
  guard.held = held;
  guard.phase = HELD;
  settle(
    guard,
    Promise.all(late),
    () => release(guard),
    (err) => {
      guard.held = undefined;
      held.discard();
      abort(guard, err);
    },
  );
  return held.call(method, args);
}

/**
 * Whether a session changed since it was saved (its property data synced first), so the save
 * must run again before the head is built: the head carries the session as it is then.
 */
function stale(guard: Guard, status: number): boolean {
  if (guard.saved.length !== guard.state.entries.length) return true;
  if (guard.resaves >= MAX_RESAVES) return false;
  for (const saved of guard.saved) {
    if (changedSince(saved)) return true;
    const abandonWhen = saved.entry.abandonWhen;
    if (abandonWhen !== undefined && abandonWhen(saved.status) !== abandonWhen(status)) return true;
  }
  return false;
}

/** The status a head built by this call would carry (an invalid one throws in Node). */
function statusOf(res: ServerResponse, args: unknown[]): number {
  const code = Number(args[0]) | 0; // as Node reads it: 200.5 and "200" are 200
  return code >= 100 && code <= 999 ? code : res.statusCode;
}

function changedSince(saved: Saved): boolean {
  const { entry } = saved;
  if (entry.abandoned || saved.skipped) return false;
  entry.beforeSave?.();
  return (
    sessionInternals.changes(entry.session) !== saved.changes ||
    sessionInternals.hasPending(entry.session)
  );
}

/** The head is built: a new token could no longer reach the client. */
function lockTokens(guard: Guard): void {
  for (const entry of guard.state.entries) sessionInternals.lockToken(entry.session);
}

/**
 * Saves every session of the request before the response head, the way the first output call
 * would, for adapters that commit after their framework's handlers and route errors their
 * framework's way (Koa). On failure the sessions are abandoned and the response is left open
 * for the framework's error answer.
 * @returns undefined when done synchronously, else a Promise (rejecting with the store error).
 */
export function saveBeforeOutput(state: RequestState, status: number): Promise<void> | undefined {
  const guard = state.guard as Guard | undefined;
  if (guard === undefined || guard.phase !== OPEN) return undefined;
  let pending: Promise<void> | undefined;
  try {
    pending = startSave(guard, status);
  } catch (err) {
    reopen(guard);
    throw err;
  }
  if (pending === undefined) {
    guard.phase = SENT;
    return undefined;
  }
  guard.phase = HELD; // output meanwhile (a detached write) is held like any other
  return pending.then(
    () => {
      if (guard.held !== undefined) release(guard);
      guard.phase = SENT;
    },
    (err: unknown) => {
      guard.held?.discard();
      guard.held = undefined;
      reopen(guard);
      throw err;
    },
  );
}

/** After a failed save that the framework answers: abandon, and let its answer through. */
function reopen(guard: Guard): void {
  abandonSessions(guard.state);
  guard.saved = [];
  guard.phase = OPEN;
}

/** Starts the save of every session; a Promise when some store answers asynchronously. */
function startSave(guard: Guard, status: number): Promise<void> | undefined {
  guard.saved = [];
  let pending: Promise<unknown>[] | undefined;
  for (const entry of guard.state.entries) {
    // A failed request (404, 5xx for the adapters) does not commit what it changed.
    const skip = entry.abandoned || entry.abandonWhen?.(status) === true;
    if (!skip) entry.beforeSave?.();
    // Counted before the save: a change made while it runs makes the session stale.
    const changes = sessionInternals.changes(entry.session);
    const saved: Saved = {
      entry,
      transport: entry.transport,
      header: undefined,
      changes,
      status,
      skipped: skip,
    };
    guard.saved.push(saved);
    if (skip) continue;
    const header = entry.core.save(entry.session, entry.transport);
    if (isPromiseLike(header)) {
      pending ??= [];
      pending.push(
        header.then((value) => {
          saved.header = value;
        }),
      );
    } else {
      saved.header = header;
    }
  }
  return pending === undefined ? undefined : Promise.all(pending).then(() => undefined);
}

/** The first output call, or one made while the response is held or after a failed commit. */
function output(guard: Guard, method: Wrapped, args: unknown[]): unknown {
  const res = guard.res;
  if (guard.phase === HELD) {
    guard.held ??= new HeldResponse(guard.req, res, false);
    return heldCall(guard, guard.held, method, args);
  }
  if (guard.phase === FAILED) return absorb(guard, method, args);
  if (guard.phase === SENT && ++guard.resaves === MAX_RESAVES) {
    logSafely(guard, "a session changed at every save; the response carries its last save");
  }
  // OPEN (or SENT with a session changed since its save): save every session now, before
  // Node builds the head.
  const status = method === "writeHead" ? statusOf(res, args) : res.statusCode;
  let pending: Promise<void> | undefined;
  try {
    pending = startSave(guard, status);
  } catch (err) {
    fail(guard, err);
    return absorb(guard, method, args);
  }
  if (pending === undefined) {
    // Saved just now, so not stale: straight on, as the guarded method would go once SENT.
    guard.phase = SENT;
    if (method !== "writeHead") return guard.originals[method].apply(res, args);
    if (res.headersSent || guard.saved.length === 0) {
      return guard.originals.writeHead.apply(res, args);
    }
    return writeSessionHead(guard, res, args);
  }
  const held = new HeldResponse(guard.req, res, false);
  guard.held = held;
  guard.phase = HELD;
  settle(
    guard,
    pending,
    () => release(guard),
    (err) => {
      const callbacks = held.discard();
      guard.held = undefined;
      fail(guard, err);
      // The handler's end(cb) and write(cb) still hear back, once the error answer is out.
      if (callbacks.length > 0) {
        onceDone(res, () => {
          for (const cb of callbacks) cb();
        });
      }
    },
  );
  return heldCall(guard, held, method, args);
}

/** A call on the held response; once the stand-in built its head, tokens are locked. */
function heldCall(guard: Guard, held: HeldResponse, method: string, args: unknown[]): unknown {
  try {
    return held.call(method, args);
  } finally {
    if (held.headersSent) lockTokens(guard);
  }
}

/** Runs `onDone` or `onFailed` when `work` settles; nothing they throw escapes. */
function settle(
  guard: Guard,
  work: Promise<unknown>,
  onDone: () => void,
  onFailed: (err: unknown) => void,
): void {
  work.then(onDone, onFailed).catch((err: unknown) => {
    logSafely(guard, "the response path failed", err);
    if (!guard.res.destroyed) guard.res.destroy();
  });
}

function logSafely(guard: Guard, what: string, ...err: [unknown?]): void {
  try {
    const kind =
      err.length === 0 ? "" : `: ${err[0] instanceof Error ? err[0].name : typeof err[0]}`;
    guard.state.entries[0]?.core.logger.error(`scs-ts: ${what}${kind}`);
  } catch {
    // a logger that throws must not take the response path down with it
  }
}

function release(guard: Guard): void {
  const held = guard.held;
  guard.held = undefined;
  guard.phase = SENT;
  if (held === undefined) return;
  for (const err of held.release()) logSafely(guard, "a held response call failed on replay", err);
}

/** A commit failed before the headers went out: the untouched response answers the error. */
function fail(guard: Guard, err: unknown): void {
  guard.phase = FAILED;
  abandonSessions(guard.state);
  for (const saved of guard.saved) saved.header = undefined; // no session cookie on the error
  const res = guard.res;
  // The route's Content-Length, Content-Type... describe a body that will not be sent, and its
  // cookies, caching and redirect belong to an answer the client will not get.
  dropRouteAnswerHeaders(res);
  absorbHeaderCalls(guard);
  errorPath.run(guard, () => report(guard, err));
}

/** A late commit failed after the headers went out: the client must not take it as complete. */
function abort(guard: Guard, err: unknown): void {
  guard.phase = FAILED;
  absorbHeaderCalls(guard);
  abandonSessions(guard.state);
  errorPath.run(guard, () => report(guard, err));
  if (!guard.res.destroyed) guard.res.destroy();
}

function report(guard: Guard, err: unknown): void {
  const entry = guard.state.entries.find((e) => e.fail !== undefined) ?? guard.state.entries[0];
  if (entry === undefined) return;
  try {
    if (entry.fail !== undefined) entry.fail(err);
    else entry.core.handleError(err, guard.req, guard.res);
  } catch (thrown) {
    logSafely(guard, "the error handler threw", thrown);
    if (!guard.res.destroyed) guard.res.destroy();
  }
}

/**
 * After a failed commit: the error path's own calls go to Node; the handler's are absorbed
 * (answered as if accepted, their callbacks called once the error answer is out), so nothing
 * the handler writes can reach the client as if its session had been saved.
 */
function absorb(guard: Guard, method: Wrapped, args: unknown[]): unknown {
  const res = guard.res;
  if (errorPath.getStore() === guard) {
    guard.phase = SENT;
    try {
      return (res as unknown as Record<Wrapped, Method>)[method].apply(res, args);
    } finally {
      guard.phase = FAILED;
    }
  }
  for (const arg of args) {
    if (typeof arg === "function") onceDone(res, arg as () => void);
  }
  if (method === "write") return true;
  if (method === "flushHeaders") return undefined;
  return res;
}

/** The header methods a handler may still call on a response the error path answered. */
const HEADER_METHODS = ["setHeader", "setHeaders", "appendHeader", "removeHeader"] as const;

/** The guards whose response's header calls are absorbed already (failures only: rare). */
const absorbing = new WeakSet<Guard>();

/**
 * After a failed commit the response is the error path's: the handler's later header calls are
 * absorbed like its output (ignored, answered as Node answers an accepted call), so they neither
 * change the error answer nor throw ERR_HTTP_HEADERS_SENT where, without the session, the
 * response would still have been open. Set only on failure: the common path adds nothing.
 */
function absorbHeaderCalls(guard: Guard): void {
  if (absorbing.has(guard)) return;
  absorbing.add(guard);
  const res = guard.res as unknown as Record<string, Method | undefined>;
  for (const name of HEADER_METHODS) {
    const original = res[name];
    if (typeof original !== "function") continue;
    res[name] = function absorbedHeaderCall(this: ServerResponse, ...args: unknown[]): unknown {
      if (guard.phase !== FAILED || errorPath.getStore() === guard)
        return original.apply(this, args);
      return name === "removeHeader" ? undefined : this;
    };
  }
}

/** Calls `fn` once the response finished or closed. */
function onceDone(res: ServerResponse, fn: () => void): void {
  if (res.writableFinished || res.destroyed) {
    process.nextTick(fn);
    return;
  }
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    res.off("finish", once);
    res.off("close", once);
    fn();
  };
  res.on("finish", once);
  res.on("close", once);
}
