/**
 * The standard, as code: with a session, a handler's response and everything the handler
 * observes are what they are without one, plus the session's own headers; the only difference
 * allowed is a 5xx (or an aborted connection, once the headers are out) when a store call
 * failed. Compares a variant's run with the bare reference's run of the same program.
 * @module
 */

import type { RunRecord, SessionRecord } from "./runner.ts";
import type { ClientOutcome, Framework, StoreKind } from "./servers.ts";

/** One run of one program on one target, as the comparison needs it. */
export interface RunResult {
  client: ClientOutcome;
  record: RunRecord;
  /** commit/delete calls the failing store received (0 elsewhere) */
  storeWrites: number;
  /** uncaught exceptions and unhandled rejections seen during the run */
  escapes: string[];
  /** the handler (the program) ran at all */
  started: boolean;
}

/** One difference; `kind` is stable across programs, to group them. */
export interface Mismatch {
  kind: string;
  detail: string;
}

/** What is compared and which session-header expectations apply. */
export interface Mode {
  store: StoreKind;
  framework: Framework;
  /** bare against bare: the harness's own determinism, no session expectations */
  selfCheck?: boolean;
}

const SESSION_COOKIE = "session=";
const SESSION_VARY = "cookie";
const SESSION_CACHE = 'no-cache="set-cookie"';

/** A response's headers with the session's own taken out, as comparable lines. */
export interface Normalised {
  lines: string[];
  sessionCookies: string[];
  varyCookie: boolean;
  noCacheSetCookie: boolean;
}

const tokens = (values: string[]): string[] =>
  values
    .flatMap((v) => v.split(","))
    .map((t) => t.trim())
    .filter((t) => t !== "");

/**
 * Removes the session cookie from Set-Cookie, the `Cookie` token from Vary and the
 * `no-cache="Set-Cookie"` token from Cache-Control (the session's own), and Date (the clock).
 * Vary and Cache-Control are compared as token lists: one line "a, b" and two lines "a", "b"
 * are the same field (RFC 9110 §5.3), and the session layer rewrites them as one line.
 */
export function normaliseHeaders(headers: [string, string][]): Normalised {
  const byName = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    if (key === "date") continue;
    const list = byName.get(key) ?? [];
    list.push(value);
    byName.set(key, list);
  }
  const out: Normalised = {
    lines: [],
    sessionCookies: [],
    varyCookie: false,
    noCacheSetCookie: false,
  };
  for (const name of [...byName.keys()].sort()) {
    const values = byName.get(name)!;
    if (name === "set-cookie") {
      for (const v of values) {
        if (v.startsWith(SESSION_COOKIE)) out.sessionCookies.push(v);
        else out.lines.push(`set-cookie: ${v}`);
      }
    } else if (name === "vary" || name === "cache-control") {
      const own = name === "vary" ? SESSION_VARY : SESSION_CACHE;
      const all = tokens(values);
      if (all.some((t) => t.toLowerCase() === own)) {
        if (name === "vary") out.varyCookie = true;
        else out.noCacheSetCookie = true;
      }
      const kept = all.filter((t) => t.toLowerCase() !== own);
      if (kept.length > 0) out.lines.push(`${name}: ${kept.join(", ")}`);
    } else {
      for (const v of values) out.lines.push(`${name}: ${v}`);
    }
  }
  return out;
}

/** A short description of what the client got. */
export function describeClient(c: ClientOutcome): string {
  switch (c.kind) {
    case "complete":
      return `complete ${c.status} ${JSON.stringify(c.reason)}, ${c.body.length} body bytes`;
    case "aborted":
      return `aborted (${c.headersArrived ? "after the head" : "before any response"}, ${c.error || "no error"})`;
    case "unparseable":
      return `unparseable response (${c.error})`;
    case "timeout":
      return "no answer within 1.5 s";
  }
}

const show = (v: unknown): string => (v === undefined ? "(none)" : JSON.stringify(v));

/** Every difference between the bare run and the variant's run of one program. */
export function compare(bare: RunResult, variant: RunResult, mode: Mode): Mismatch[] {
  const out: Mismatch[] = [];
  const push = (kind: string, detail = ""): void => {
    out.push({ kind, detail });
  };
  for (const escaped of [...bare.escapes, ...variant.escapes]) push(`process: ${escaped}`);
  if (!variant.started) {
    push("the handler never ran", describeClient(variant.client));
    return out;
  }
  if (variant.record.ended === "running") push("the program never finished");

  const b = bare.record;
  const firstTouch = firstEffectiveTouch(bare, variant);
  const touchedBeforeOutput = firstTouch !== undefined && !firstTouch.headersSentBefore;
  // The bare reference answered with its own error response (the program failed before output).
  const errorResponse = b.failure !== undefined && !b.failure.headersSent;

  // The adapters never commit a session on a 404 or 5xx (a failed request): a store write that
  // failed on the way (destroy's own delete) leaves such a response as it is.
  const bareStatus = bare.client.kind === "complete" ? bare.client.status : 0;
  const uncommitted = mode.framework !== "node" && (bareStatus === 404 || bareStatus >= 500);
  if (mode.store === "failing" && variant.storeWrites > 0) {
    // A failed request's own answer, or (when the layer waited on a store call that failed
    // before the route settled on its failing status) a 5xx of its own, without a session cookie.
    const ownError =
      variant.client.kind === "complete" &&
      variant.client.status >= 500 &&
      normaliseHeaders(variant.client.headers).sessionCookies.length === 0;
    if (uncommitted && !ownError) compareClient(bare.client, variant.client, errorResponse, push);
    else if (!uncommitted)
      checkFailedStore(bare, variant, push, touchedBeforeOutput, errorResponse);
    return out;
  }
  compareClient(bare.client, variant.client, errorResponse, push);
  compareObserved(bare, variant, push);
  if (!mode.selfCheck && mode.store !== "failing") {
    checkSessionHeaders(bare, variant, mode, push, touchedBeforeOutput, errorResponse);
  }
  return out;
}

type Push = (kind: string, detail?: string) => void;

function checkFailedStore(
  bare: RunResult,
  variant: RunResult,
  push: Push,
  touchedBeforeOutput: boolean,
  errorResponse: boolean,
): void {
  const c = variant.client;
  const firstTouch = firstEffectiveTouch(bare, variant);
  if (firstTouch === undefined) {
    push("(c) a store write although the session was never touched");
    return;
  }
  if (touchedBeforeOutput) {
    // 503 (the store is unavailable), unless the route's own answer was already an error.
    const bareStatus = bare.client.kind === "complete" ? bare.client.status : 0;
    const any5xx = errorResponse || bareStatus >= 500;
    const want = any5xx ? "5xx" : "503";
    if (c.kind === "complete") {
      if (any5xx ? c.status < 500 : c.status !== 503) {
        push(
          `(c) session changed before the first output, store write failed: expected ${want}, got ${c.status}`,
          describeClient(c),
        );
      }
      if (normaliseHeaders(c.headers).sessionCookies.length > 0) {
        push("(c) a session cookie on the response of a failed store write");
      }
    } else if (
      !(c.kind === "aborted" && bare.client.kind === "aborted") &&
      !(c.kind === "aborted" && c.headersArrived && refusedBodilessHead(bare))
    ) {
      // (An error head after Node refused a 204/304 writeHead: Node keeps that response
      // bodiless, so the error body never follows its head. That is Node's, not the layer's.)
      push(
        `(c) session changed before the first output, store write failed: expected a complete ${want}, got ${c.kind}`,
        describeClient(c),
      );
    }
    return;
  }
  if (!firstTouch.writableEndedBefore && !completeAtClient(bare.client, firstTouch.bytesBefore)) {
    if (c.kind !== "aborted") {
      push(
        `(c) session changed after the headers went out, store write failed: expected an aborted connection, got ${c.kind}`,
        describeClient(c),
      );
    }
    return;
  }
  // Changed after the response had ended, or once the client had all of it by its framing.
  // Changed after the end: the response is the bare one. Complete by framing but not ended
  // (a 204 head, a full Content-Length body): the layer still holds the end, so aborting is
  // right too (the client learns the store write failed); otherwise the bare response.
  if (!firstTouch.writableEndedBefore && c.kind === "aborted") return;
  compareClient(bare.client, variant.client, errorResponse, push);
}

/**
 * The bare record of the first session step that took effect under the layer: a step the layer
 * refused at once (renewToken after the headers went out throws) changed nothing.
 */
function firstEffectiveTouch(bare: RunResult, variant: RunResult): SessionRecord | undefined {
  const k = variant.record.session.findIndex((step) => step.how !== "threw");
  return k < 0 ? undefined : bare.record.session[k];
}

/** Whether the program had Node refuse a writeHead(204 or 304): Node then sends no body. */
function refusedBodilessHead(bare: RunResult): boolean {
  return bare.record.steps.some(
    (step) =>
      step.op === "writeHead" &&
      step.threw !== undefined &&
      [204, 304].includes(Number(step.status) | 0),
  );
}

/**
 * Whether the client already had the whole response once `bytes` body bytes were written: a
 * 204/304 is complete with its head, a Content-Length response with that many bytes.
 */
function completeAtClient(client: ClientOutcome, bytes: number): boolean {
  if (client.kind !== "complete") return false;
  if (client.status === 204 || client.status === 304) return true;
  const length = client.headers.find(([n]) => n.toLowerCase() === "content-length")?.[1];
  return length !== undefined && bytes >= Number(length);
}

function compareClient(b: ClientOutcome, v: ClientOutcome, errorResponse: boolean, push: Push) {
  if (b.kind !== v.kind) {
    push(
      `client: ${b.kind} vs ${v.kind}`,
      `bare ${describeClient(b)}; session ${describeClient(v)}`,
    );
    return;
  }
  if (b.kind === "unparseable" && v.kind === "unparseable" && b.error !== v.error) {
    push("client: unparseable differently", `${b.error} vs ${v.error}`);
  }
  if (b.kind !== "complete" || v.kind !== "complete") return;
  if (b.status !== v.status) push(`client: status ${b.status} vs ${v.status}`);
  // The error response of a failed handler: status and completeness only, not its headers/body.
  if (errorResponse) return;
  if (b.reason !== v.reason)
    push("client: reason phrase", `${show(b.reason)} vs ${show(v.reason)}`);
  const bh = normaliseHeaders(b.headers).lines;
  const vh = normaliseHeaders(v.headers).lines;
  const names = new Set([...bh, ...vh].map((l) => l.slice(0, l.indexOf(":"))));
  for (const name of names) {
    const bl = bh.filter((l) => l.startsWith(`${name}:`));
    const vl = vh.filter((l) => l.startsWith(`${name}:`));
    if (JSON.stringify(bl) !== JSON.stringify(vl)) {
      push(`client: header ${name}`, `bare ${show(bl)}; session ${show(vl)}`);
    }
  }
  if (!b.body.equals(v.body)) {
    push("client: body", `bare ${b.body.length} bytes; session ${v.body.length} bytes`);
  }
}

// Codes Node reports for a write after end: which one, and whether the callback runs and an
// 'error' is emitted at all, depends on whether the socket has closed yet (see write_ and end
// in lib/_http_outgoing.js): a race with the kernel, not a property of the handler.
const AFTER_END = new Set(["ERR_STREAM_WRITE_AFTER_END", "ERR_STREAM_DESTROYED"]);

function compareObserved(bare: RunResult, variant: RunResult, push: Push): void {
  const b = bare.record;
  const v = variant.record;
  if (b.ended !== v.ended) push(`observed: the handler ${b.ended} vs ${v.ended}`);
  const n = Math.min(b.steps.length, v.steps.length);
  if (b.steps.length !== v.steps.length) {
    push(`observed: ${b.steps.length} vs ${v.steps.length} response steps ran`);
  }
  for (let k = 0; k < n; k++) {
    const bs = b.steps[k]!;
    const vs = v.steps[k]!;
    const at = `step ${bs.i} ${bs.op}`;
    if (bs.threw !== vs.threw) {
      push(`observed: ${bs.op} threw ${show(bs.threw)} vs ${show(vs.threw)}`, at);
    }
    if (bs.ret !== vs.ret && bs.ret !== "?" && vs.ret !== "?") {
      push(`observed: ${bs.op} returned ${show(bs.ret)} vs ${show(vs.ret)}`, at);
    }
    if (bs.headersSent !== vs.headersSent) {
      push(`observed: headersSent after ${bs.op} ${bs.headersSent} vs ${vs.headersSent}`, at);
    }
    if (bs.writableEnded !== vs.writableEnded) {
      push(`observed: writableEnded after ${bs.op} ${bs.writableEnded} vs ${vs.writableEnded}`, at);
    }
  }
  // Callbacks of calls made after the end race the socket's close; when the connection is
  // aborted every pending callback races the abort. Neither is compared.
  const aborted =
    b.epilogueDestroy || (b.failure?.headersSent === true && !b.failure.writableEnded);
  const complete = bare.client.kind === "complete" && !aborted;
  const afterEnd = new Set(b.steps.filter((s) => s.afterEnd).map((s) => s.i));
  const cbs = (r: RunRecord) =>
    complete ? r.callbacks.filter((c) => !afterEnd.has(c.i)).map((c) => `${c.i}:${c.outcome}`) : [];
  const bc = cbs(b);
  const vc = cbs(v);
  if (bc.join() !== vc.join()) push("observed: callbacks", `bare ${show(bc)}; session ${show(vc)}`);
  const errs = (r: RunRecord) => r.errors.filter((e) => !AFTER_END.has(e));
  if (errs(b).join() !== errs(v).join()) {
    push("observed: 'error' events", `bare ${show(errs(b))}; session ${show(errs(v))}`);
  }
  if (complete && b.finished !== v.finished)
    push(`observed: 'finish' ${b.finished} vs ${v.finished}`);
}

function checkSessionHeaders(
  bare: RunResult,
  variant: RunResult,
  mode: Mode,
  push: Push,
  touchedBeforeOutput: boolean,
  errorResponse: boolean,
): void {
  const b = bare.client;
  const v = variant.client;
  if (b.kind !== "complete" || v.kind !== "complete" || errorResponse) return;
  const h = normaliseHeaders(v.headers);
  if (!h.varyCookie) push("session: no Vary: Cookie");
  // The adapters never commit a session on a 404 or 5xx (a failed request); handler does.
  const uncommitted = mode.framework !== "node" && (b.status === 404 || b.status >= 500);
  const expectCookie = touchedBeforeOutput && !uncommitted;
  if (expectCookie && h.sessionCookies.length === 0) {
    push("session: no session cookie although the session changed before the first output");
  }
  if (!expectCookie && h.sessionCookies.length > 0) {
    push(
      touchedBeforeOutput
        ? "session: a session cookie on a 404/5xx response"
        : "session: a session cookie although the session was unchanged when the headers went out",
      show(h.sessionCookies),
    );
  }
  if (h.sessionCookies.length > 0 && !h.noCacheSetCookie) {
    push('session: a session cookie without Cache-Control no-cache="Set-Cookie"');
  }
}
