/**
 * Reading one rqlite HTTP answer: collecting it within a time bound, its three error channels,
 * and which failures are worth another attempt. Internal to the rqlite client.
 * @module
 */
import type { Dispatcher } from "undici";
import { RqliteAuthError, RqliteError } from "./rqlite-errors.ts";

/** A failure that another node or a later round may not have: try again. */
export class RetryableError extends Error {
  override name = "RetryableError";
}

/**
 * An SQL error that means "this node has not applied the whole log yet" rather than a bad
 * statement: `no such table` / `no such index` for a table the store already created. Right
 * after a full restart rqlite can answer reads while still replaying the log that holds the
 * `CREATE TABLE`. Retried like any other transient failure.
 */
export class NotCaughtUpError extends RetryableError {
  override name = "NotCaughtUpError";
}

const MISSING_SCHEMA = /^no such (table|index)\b/;

/** One entry of rqlite's `results` array, as sent. */
export interface RawResult {
  error?: unknown;
  rows_affected?: unknown;
  columns?: unknown;
  values?: unknown;
}

/** One attempt took longer than its time bound (queueing, connecting, headers and body). */
export class AttemptTimeoutError extends Error {
  override name = "AttemptTimeoutError";
}

/** A whole HTTP answer: its status and its body as text. */
export interface Answer {
  status: number;
  text: string;
}

/**
 * Sends one request and collects the whole answer, or rejects with {@link AttemptTimeoutError}
 * once `timeout` ms have passed since the call: waiting for a socket, connecting, the headers
 * and every byte of the body included. undici's own `headersTimeout`/`bodyTimeout` cannot do
 * this: `bodyTimeout` is idle time between chunks, so a node that trickles its body resets it
 * for ever. Costs one timer per attempt and no AbortController, stream or EventTarget: the
 * timer aborts the request through undici's dispatch controller, which destroys the socket.
 */
export function readAnswer(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  timeout: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    dispatcher.dispatch(options, new AnswerHandler(resolve, reject, timeout));
  });
}

/** Collects one answer for {@link readAnswer}; settles its promise exactly once. */
class AnswerHandler implements Dispatcher.DispatchHandler {
  #status = 0;
  #chunks: Buffer[] = [];
  #controller: Dispatcher.DispatchController | undefined;
  #resolve: ((answer: Answer) => void) | undefined;
  #reject: (err: Error) => void;
  #timer: NodeJS.Timeout;
  #expired: AttemptTimeoutError | undefined;

  constructor(resolve: (answer: Answer) => void, reject: (err: Error) => void, timeout: number) {
    this.#resolve = resolve;
    this.#reject = reject;
    // Request-scoped and cleared when the answer settles: it holds the process no longer than
    // the request itself does.
    this.#timer = setTimeout(() => this.#expire(timeout), timeout);
  }

  #expire(timeout: number): void {
    const err = new AttemptTimeoutError(`no complete answer within ${timeout} ms`);
    this.#expired = err;
    this.#settle(err);
    // Still queued for a socket: onRequestStart aborts it when it gets one. Aborting destroys
    // the socket; undici then opens one idle, unref'd socket in its place (undici issue 5845),
    // which holds nothing and serves the next call to that node.
    this.#controller?.abort(err);
  }

  #settle(err: Error | undefined, answer?: Answer): void {
    const resolve = this.#resolve;
    if (resolve === undefined) return;
    this.#resolve = undefined;
    clearTimeout(this.#timer);
    this.#chunks = [];
    if (err) this.#reject(err);
    else resolve(answer as Answer);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#expired) controller.abort(this.#expired);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.#status = statusCode;
    this.#chunks = [];
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#resolve !== undefined) this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    const chunks = this.#chunks;
    const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    this.#settle(undefined, { status: this.#status, text: bytes.toString("utf8") });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#settle(err);
  }
}

/** A short description of a network error: its code and message, never request data. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}

/** `text` with every secret cut out: what the server said may echo what it was sent. */
function scrub(text: string, secrets: readonly string[]): string {
  for (const secret of secrets) text = text.split(secret).join("***");
  return text;
}

/**
 * Checks rqlite's three error channels, in order: status, top-level `error`, `results[i].error`.
 * With `schemaKnown`, a `no such table`/`no such index` SQL error is {@link NotCaughtUpError}
 * (the node lags behind the log), not a final {@link RqliteError}. What the server said goes
 * into the error message with `secrets` (the credentials sent) cut out.
 * @returns the results; throws {@link RetryableError}, {@link RqliteError} or {@link RqliteAuthError}.
 */
export function parseAnswer(
  status: number,
  text: string,
  url: string,
  schemaKnown = false,
  secrets: readonly string[] = [],
): RawResult[] {
  const body = scrub(text.trim().slice(0, 200), secrets);
  // rqlited answers 401 with an empty body.
  const said = body ? `: ${body}` : "";
  if (status === 401 || status === 403)
    throw new RqliteAuthError(`rqlite refused the credentials (${status})${said}`, status);
  if (status >= 400 && status < 500)
    throw new RqliteError(`rqlite refused the request (${status})${said}`, status);
  if (status !== 200) throw new RetryableError(`${url}: HTTP ${status}${said}`);
  let json: { error?: unknown; results?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (err) {
    throw new RetryableError(`${url}: answer is not JSON`, { cause: err });
  }
  if (json.error !== undefined && json.error !== "") {
    throw new RetryableError(`${url}: ${scrub(String(json.error), secrets)}`);
  }
  const results = Array.isArray(json.results) ? (json.results as RawResult[]) : [];
  for (const r of results) {
    if (r && typeof r.error === "string" && r.error !== "") {
      const error = scrub(r.error, secrets);
      if (schemaKnown && MISSING_SCHEMA.test(error))
        throw new NotCaughtUpError(`${url}: ${error} (the node has not applied the whole log yet)`);
      throw new RqliteError(`rqlite SQL error: ${error}`, 200);
    }
  }
  return results;
}
