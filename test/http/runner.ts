/**
 * Runs a handler program on a ServerResponse and records what the handler observes: for each
 * step whether it threw, what it returned, res.headersSent / res.writableEnded after it; the
 * callbacks that ran and with what; the response's 'error' events. The same runner drives the
 * bare reference and the session variants, so the records can be compared field by field.
 * @module
 */
import type { ServerResponse } from "node:http";
import {
  BIG,
  type Chunk,
  chunkSize,
  chunkValue,
  type Program,
  type Step,
  stepsOf,
} from "./programs.ts";

type Method = (...args: unknown[]) => unknown;

/** What the handler saw of one response step. */
export interface StepRecord {
  i: number;
  op: string;
  /** error code (or name) when the call threw */
  threw?: string;
  /** the return value: "res" for the response itself, booleans as is, "?" when not deterministic */
  ret?: string | boolean;
  headersSent: boolean;
  writableEnded: boolean;
  /** the response had ended before this step (its callback races the socket's close) */
  afterEnd: boolean;
  /** for writeHead: the status it was given */
  status?: number | string;
}

/** A session step: skipped on the bare reference, its outcome recorded apart. */
export interface SessionRecord {
  i: number;
  op: string;
  headersSentBefore: boolean;
  writableEndedBefore: boolean;
  /** body bytes the program had handed to write/end before this step */
  bytesBefore: number;
  /** "skipped" (bare), "pending", "ok", or the error code/name it threw or rejected with */
  outcome: string;
  /** how it failed: synchronously or as a rejection */
  how?: "threw" | "rejected";
}

/** Everything the handler observed during one run. */
export interface RunRecord {
  steps: StepRecord[];
  session: SessionRecord[];
  callbacks: { i: number; outcome: string }[];
  errors: string[];
  finished: boolean;
  /** how the program ended, and the response state at a throw */
  ended: "returned" | "threw" | "rejected" | "running";
  failure?: { i: number; headersSent: boolean; writableEnded: boolean };
  /** the runner destroyed a response that no step had ended (an end() that threw) */
  epilogueDestroy: boolean;
}

// Node keeps (and later appends to) an array it is given as a header value: every call gets its
// own copy, or one program would change the values of the next.
const copy = <T>(value: T): T => (Array.isArray(value) ? ([...value] as T) : value);

/** The error a program throws on purpose. */
export class ProgramError extends Error {
  override name = "ProgramError";
}

export function codeOf(err: unknown): string {
  if (err !== null && typeof err === "object") {
    const { code, name } = err as { code?: unknown; name?: unknown };
    if (typeof code === "string") return code;
    if (typeof name === "string") return name;
  }
  return typeof err;
}

function normalise(value: unknown, res: ServerResponse): string | boolean {
  if (value === res) return "res";
  if (typeof value === "boolean") return value;
  return value === undefined ? "undefined" : typeof value;
}

/** The session calls a program makes; absent on the bare reference. */
export interface SessionLike {
  put(key: string, value: number): void;
  destroy(): Promise<void>;
  renewToken(): Promise<void>;
}

/** Options of one run. */
export interface RunOptions {
  /** the request's session, or undefined on the bare reference (session steps are skipped) */
  session: (() => SessionLike) | undefined;
  /**
   * Whether to destroy a response the program left unended. The bare reference decides by its
   * own state; the variants follow the reference, so both runs make the same calls.
   */
  epilogueDestroy: boolean | "own";
}

const wait = (step: Extract<Step, { op: "await" }>): Promise<void> =>
  step.kind === "microtask"
    ? Promise.resolve()
    : step.kind === "immediate"
      ? new Promise((resolve) => setImmediate(resolve))
      : new Promise((resolve) => setTimeout(resolve, step.ms));

/** One program on one response. `start()` is the handler body; `done` settles when it ends. */
export class ProgramRun {
  readonly record: RunRecord = {
    steps: [],
    session: [],
    callbacks: [],
    errors: [],
    finished: false,
    ended: "running",
    epilogueDestroy: false,
  };
  readonly done: Promise<void>;
  readonly closed: Promise<void>;
  /** callbacks handed to write/end that have not run yet, and unawaited session calls */
  pending = 0;
  #resolveDone!: () => void;
  #bytes = 0;
  readonly #steps: Step[];

  constructor(
    readonly program: Program,
    readonly res: ServerResponse,
    readonly options: RunOptions,
  ) {
    this.#steps = stepsOf(program);
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
    res.on("error", (err) => this.record.errors.push(codeOf(err)));
    res.on("finish", () => {
      this.record.finished = true;
    });
    this.closed = new Promise((resolve) => res.on("close", () => resolve()));
  }

  /** The handler: runs synchronously until the first await, then returns a Promise. */
  start(): unknown {
    let result: unknown;
    try {
      result = this.#from(0);
    } catch (err) {
      this.#end("threw");
      throw err;
    }
    if (result instanceof Promise) {
      return result.then(
        () => this.#end("returned"),
        (err: unknown) => {
          this.#end("rejected");
          throw err;
        },
      );
    }
    this.#end("returned");
    return result;
  }

  #end(how: "returned" | "threw" | "rejected"): void {
    if (this.record.ended === "running") this.record.ended = how;
    this.#resolveDone();
  }

  #from(start: number): Promise<void> | undefined {
    const steps = this.#steps;
    for (let i = start; i < steps.length; i++) {
      const step = steps[i]!;
      switch (step.op) {
        case "await":
          return wait(step).then(() => this.#from(i + 1));
        case "throw":
          this.#failure(i);
          throw new ProgramError("handler failed");
        case "reject":
          this.#failure(i);
          return Promise.reject(new ProgramError("handler failed"));
        case "put":
        case "destroy":
        case "renewToken": {
          const awaited = this.#session(i, step);
          if (awaited !== undefined) return awaited.then(() => this.#from(i + 1));
          break;
        }
        default:
          this.#response(i, step);
      }
    }
    this.#epilogue();
    return undefined;
  }

  #failure(i: number): void {
    this.record.failure = {
      i,
      headersSent: this.res.headersSent,
      writableEnded: this.res.writableEnded,
    };
  }

  #epilogue(): void {
    const decide = this.options.epilogueDestroy;
    const destroy = decide === "own" ? !this.res.writableEnded : decide;
    if (destroy) {
      this.record.epilogueDestroy = true;
      this.res.destroy();
    }
  }

  /** A session step; returns the Promise to wait for when the program awaits it. */
  #session(i: number, step: Step): Promise<void> | undefined {
    const entry: SessionRecord = {
      i,
      op: step.op,
      headersSentBefore: this.res.headersSent,
      writableEndedBefore: this.res.writableEnded,
      bytesBefore: this.#bytes,
      outcome: "skipped",
    };
    this.record.session.push(entry);
    const awaited = (step.op === "destroy" || step.op === "renewToken") && step.awaited;
    const of = this.options.session;
    if (of === undefined) {
      // Bare: nothing to call, but an awaited call still yields, so the rest of the program
      // runs asynchronously in both runs (a later throw stays a rejection in both).
      return awaited ? Promise.resolve() : undefined;
    }
    entry.outcome = "pending";
    let promise: Promise<void> | undefined;
    try {
      const session = of();
      if (step.op === "put") {
        session.put(step.key, step.value);
        entry.outcome = "ok";
        return undefined;
      }
      promise = step.op === "destroy" ? session.destroy() : session.renewToken();
    } catch (err) {
      entry.outcome = codeOf(err);
      entry.how = "threw";
      return awaited ? Promise.resolve() : undefined;
    }
    this.pending++;
    const settled = Promise.resolve(promise).then(
      () => {
        this.pending--;
        entry.outcome = "ok";
      },
      (err: unknown) => {
        this.pending--;
        entry.outcome = codeOf(err);
        entry.how = "rejected";
      },
    );
    return awaited ? settled : undefined;
  }

  #callback(i: number): (err?: unknown) => void {
    this.pending++;
    return (err?: unknown) => {
      this.pending--;
      this.record.callbacks.push({ i, outcome: err ? codeOf(err) : "ok" });
    };
  }

  #response(i: number, step: Step): void {
    const res = this.res;
    const entry: StepRecord = {
      i,
      op: step.op,
      headersSent: false,
      writableEnded: false,
      afterEnd: res.writableEnded,
      ...(step.op === "writeHead" ? { status: step.status } : {}),
    };
    let bytes = 0;
    const callbacks = this.pending;
    try {
      const ret = this.#call(i, step, (chunk) => {
        bytes = chunkSize(chunk);
      });
      if (step.op !== "statusCode" && step.op !== "statusMessage") {
        entry.ret = normalise(ret, res);
        // write() answers whether the socket buffer is under its highWaterMark. That is
        // deterministic while this response has handed the socket less than it (always true),
        // and for a chunk larger than it (always false); after a big chunk, whether the kernel
        // has drained it yet depends on timing, so a small write's answer is not compared.
        if (step.op === "write" && bytes < BIG && this.#bytes + bytes >= 16 * 1024) entry.ret = "?";
      }
      this.#bytes += bytes;
    } catch (err) {
      entry.threw = codeOf(err);
      // A call that threw never runs its callback.
      this.pending = callbacks;
    }
    entry.headersSent = res.headersSent;
    entry.writableEnded = res.writableEnded;
    this.record.steps.push(entry);
  }

  #call(i: number, step: Step, sized: (chunk: Chunk) => void): unknown {
    const res = this.res;
    const call = (name: string, args: unknown[]): unknown =>
      ((res as unknown as Record<string, Method>)[name] as Method).apply(res, args);
    switch (step.op) {
      case "setHeader":
      case "appendHeader":
        return call(step.op, [step.name, copy(step.value)]);
      case "removeHeader":
        return res.removeHeader(step.name);
      case "writeHead": {
        const args: unknown[] = [step.status];
        if (step.reason !== undefined) args.push(step.reason);
        if (step.headers !== undefined) {
          args.push(
            step.headers.kind === "array"
              ? [...step.headers.flat]
              : Object.fromEntries(step.headers.entries.map(([n, v]) => [n, copy(v)])),
          );
        }
        return call("writeHead", args);
      }
      case "statusCode":
        (res as { statusCode: unknown }).statusCode = step.status;
        return undefined;
      case "statusMessage":
        res.statusMessage = step.text;
        return undefined;
      case "write": {
        sized(step.chunk);
        const args: unknown[] = [chunkValue(step.chunk)];
        if (step.cb) args.push(this.#callback(i));
        return call("write", args);
      }
      case "end": {
        const args: unknown[] = [];
        if (step.chunk !== undefined) {
          sized(step.chunk);
          args.push(chunkValue(step.chunk));
        }
        if (step.cb) args.push(this.#callback(i));
        return call("end", args);
      }
      case "flushHeaders":
        return res.flushHeaders();
      default:
        throw new TypeError(`not a response step: ${step.op}`);
    }
  }
}
