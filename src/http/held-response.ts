/**
 * A response held while its session commit runs. The client must not see a byte before the
 * commit succeeded, yet the handler must observe exactly what Node would show it: the same
 * throws (an invalid status code, a header set after writeHead), the same return values
 * (write's backpressure), the same `headersSent` and `writableEnded`. So, while held, the
 * handler's calls go to a stand-in: a real `ServerResponse` with the same request, headers
 * and status, attached to no socket. Node's own code validates each call and answers it; the
 * call is recorded. When the commit succeeds the recording is replayed on the real response,
 * which was left untouched and so behaves the same; when it fails the recording is dropped and
 * the untouched response is free for the error answer.
 * @module
 */
import { type IncomingMessage, ServerResponse } from "node:http";
import { hasHeaderTable } from "./headers.ts";

type Recorded =
  | { readonly method: string; readonly args: unknown[]; readonly threw: boolean }
  | { readonly property: "statusCode" | "statusMessage"; readonly value: unknown };

/** Methods that change the response: answered by the stand-in, then recorded for replay. */
const RECORDED_METHODS = [
  "writeHead",
  "write",
  "end",
  "flushHeaders",
  "setHeader",
  "appendHeader",
  "removeHeader",
  "setHeaders",
  "addTrailers",
  "destroy",
] as const;

/** Methods that only read: answered by the stand-in. */
const READ_METHODS = [
  "getHeader",
  "getHeaders",
  "getHeaderNames",
  "getRawHeaderNames",
  "hasHeader",
] as const;

/** Getters that only read: answered by the stand-in. */
const READ_ACCESSORS = [
  "headersSent",
  "writableEnded",
  "writableFinished",
  "writableLength",
  "writableNeedDrain",
  "finished",
  "destroyed",
] as const;

/** Data properties the handler may assign: forwarded to the stand-in and recorded. */
const RECORDED_PROPERTIES = ["statusCode", "statusMessage"] as const;

type Indexed = Record<string, unknown>;
type AnyMethod = (...args: unknown[]) => unknown;

function noop(): void {}

/** Callbacks never go to the stand-in (it never flushes); the real response calls them. */
function withoutCallbacks(args: unknown[]): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < args.length; i++) {
    if (typeof args[i] === "function") {
      out ??= args.slice();
      out[i] = undefined;
    }
  }
  return out ?? args;
}

/** The response's own property that leads the shared functions below to its hold. */
const HOLD = Symbol("scs-ts held response");
/** A property only added and deleted again (see the hold's install). */
const SPARE = Symbol("scs-ts spare");

/** The hold of `self`, a held response (or an object inheriting from one). */
function holdOf(self: unknown): HeldResponse | undefined {
  return (self as Record<symbol, HeldResponse | undefined> | null | undefined)?.[HOLD];
}

/**
 * A method of a held response: `answer` with its hold. Called on a response no longer held
 * (a reference kept from the hold), it calls what the response has under that name now, or
 * Node's own method.
 */
function heldMethod(
  name: string,
  answer: (hold: HeldResponse, args: unknown[]) => unknown,
): PropertyDescriptor {
  const method = function (this: unknown, ...args: unknown[]): unknown {
    const hold = holdOf(this);
    if (hold !== undefined) return answer(hold, args);
    const current = (this as Indexed | null | undefined)?.[name];
    const node = (ServerResponse.prototype as unknown as Indexed)[name];
    return (
      (current === method || typeof current !== "function" ? node : current) as AnyMethod
    ).apply(this, args);
  };
  return { configurable: true, writable: true, value: method };
}

/** An accessor of a held response: the stand-in's value is read; an assignment goes to `set`. */
function heldAccessor(
  name: string,
  set: (hold: HeldResponse, value: unknown) => void,
): PropertyDescriptor {
  return {
    configurable: true,
    get(this: unknown): unknown {
      return holdOf(this)?.read(name);
    },
    set(this: unknown, value: unknown): void {
      const hold = holdOf(this);
      if (hold !== undefined) set(hold, value);
    },
  };
}

/** What the hold puts on a response, made once: the same functions for every response. */
const HOLD_PROPERTIES: readonly (readonly [string, PropertyDescriptor])[] = [
  // writeHead, write, end and flushHeaders: the guard's own wrappers route these to `call`.
  ...RECORDED_METHODS.filter(
    (n) => n !== "writeHead" && n !== "write" && n !== "end" && n !== "flushHeaders",
  ).map((name) => [name, heldMethod(name, (hold, args) => hold.call(name, args))] as const),
  ...READ_METHODS.map(
    (name) => [name, heldMethod(name, (hold, args) => hold.ask(name, args))] as const,
  ),
  // Node itself may assign some of these meanwhile (destroyed, when the client goes away):
  // kept for the real response, restored with the hold's end.
  ...READ_ACCESSORS.map(
    (name) => [name, heldAccessor(name, (hold, value) => hold.assigned(name, value))] as const,
  ),
  ...RECORDED_PROPERTIES.map(
    (name) => [name, heldAccessor(name, (hold, value) => hold.assign(name, value))] as const,
  ),
];

/**
 * The handler's view of a held response. `call` answers an output call through the stand-in;
 * `release` replays everything on the real response; `discard` drops it.
 */
export class HeldResponse {
  readonly #res: ServerResponse;
  readonly #stand: ServerResponse;
  readonly #recorded: Recorded[] = [];
  /** Own properties of the response that the hold replaced, restored afterwards. */
  readonly #saved = new Map<string, PropertyDescriptor | undefined>();
  /** Assignments Node made to the real response's properties while it was held. */
  readonly #assigned = new Map<string, unknown>();
  /** A write answered false: the handler may wait for 'drain'. */
  #backpressure = false;

  /**
   * Holds `res`: from now on the handler's calls on it are answered by a stand-in.
   * @param headersSent whether the real response's headers already went out (a late commit).
   */
  constructor(req: IncomingMessage, res: ServerResponse, headersSent: boolean) {
    this.#res = res;
    const Response = ServerResponse as unknown as new (
      req: IncomingMessage,
      options: { highWaterMark: number },
    ) => ServerResponse;
    const stand = new Response(req, { highWaterMark: res.writableHighWaterMark });
    stand.on("error", noop); // the real response reports the same error when replayed
    const rawNames = (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames();
    for (const name of rawNames) {
      const value = res.getHeader(name);
      // A copy: Node appends to a header's array in place, which must not reach the real one.
      if (value !== undefined) stand.setHeader(name, Array.isArray(value) ? [...value] : value);
    }
    // The same header table state as the real response: it decides how writeHead merges.
    if (rawNames.length === 0 && hasHeaderTable(res) && !hasHeaderTable(stand)) {
      stand.setHeader("x-scs-none", "");
      stand.removeHeader("x-scs-none");
    }
    stand.statusCode = res.statusCode;
    stand.statusMessage = res.statusMessage;
    stand.sendDate = res.sendDate;
    stand.strictContentLength = res.strictContentLength;
    if (headersSent) {
      // Only to mark the stand-in's head as sent (what the handler sets now is ignored anyway).
      const code = res.statusCode;
      stand.writeHead(Number.isInteger(code) && code >= 100 && code <= 999 ? code : 200, "-");
    }
    this.#stand = stand;
    this.#install();
  }

  /** Whether the stand-in built its head (the handler sees `headersSent` true). */
  get headersSent(): boolean {
    return this.#stand.headersSent;
  }

  /**
   * Answers `method(...args)` as Node would, through the stand-in, and records it.
   * @returns what Node returned (the real response where Node returned itself).
   * @throws what Node threw.
   */
  call(method: string, args: unknown[]): unknown {
    const stand = this.#stand as unknown as Indexed;
    let result: unknown;
    try {
      result = (stand[method] as AnyMethod).apply(stand, withoutCallbacks(args));
    } catch (err) {
      // Replayed too: a throwing call may have changed state first (as writeHead does).
      this.#recorded.push({ method, args, threw: true });
      throw err;
    }
    this.#recorded.push({ method, args, threw: false });
    if (result === false && method === "write") this.#backpressure = true;
    return result === this.#stand ? this.#res : result;
  }

  /**
   * Ends the hold and replays every recorded call on the real response, in order. Errors the
   * handler already received from the stand-in are not raised again.
   * @returns errors the real response raised where the stand-in had not (none expected).
   */
  release(): unknown[] {
    this.#restore();
    const res = this.#res as unknown as Indexed;
    const unexpected: unknown[] = [];
    for (const entry of this.#recorded) {
      if ("property" in entry) {
        res[entry.property] = entry.value;
        continue;
      }
      try {
        (res[entry.method] as AnyMethod).apply(res, entry.args);
      } catch (err) {
        if (!entry.threw) unexpected.push(err);
      }
    }
    this.#recorded.length = 0;
    if (this.#backpressure) {
      const real = this.#res;
      // The handler saw write() answer false; make sure it hears 'drain'.
      process.nextTick(() => {
        if (!real.destroyed && !real.writableNeedDrain) real.emit("drain");
      });
    }
    return unexpected;
  }

  /**
   * Ends the hold without replaying: the response is left as it was before the hold.
   * @returns the callbacks the handler passed to recorded calls (it still expects them called).
   */
  discard(): (() => void)[] {
    this.#restore();
    const callbacks: (() => void)[] = [];
    for (const entry of this.#recorded) {
      if ("method" in entry && !entry.threw) {
        for (const arg of entry.args)
          if (typeof arg === "function") callbacks.push(arg as () => void);
      }
    }
    this.#recorded.length = 0;
    return callbacks;
  }

  /**
   * Puts the hold's properties on the response. The functions are the module's shared ones
   * (they find the hold through {@link HOLD}): fresh closures per response would give each
   * response its own hidden class, which cost ~50 µs per held response in V8 (and garbage).
   */
  #install(): void {
    const res = this.#res as unknown as Indexed & Record<symbol, unknown>;
    const stand = this.#stand as unknown as Indexed;
    // V8 copies an object's hidden class for each property added when the object shares it
    // with no other (Express gives every response its prototype with setPrototypeOf): ~3 µs a
    // property, 50 µs a hold. A dictionary-mode object takes them as hash inserts, and
    // deleting a property other than the newest one makes it one.
    res[SPARE] = true;
    res[HOLD] = this;
    delete res[SPARE];
    for (const [name, descriptor] of HOLD_PROPERTIES) {
      if (descriptor.value !== undefined && typeof stand[name] !== "function") continue; // not in this Node version
      this.#saved.set(name, Object.getOwnPropertyDescriptor(res, name));
      Object.defineProperty(res, name, descriptor);
    }
  }

  /** The stand-in answers a reading method. @returns its answer. */
  ask(method: string, args: unknown[]): unknown {
    const stand = this.#stand as unknown as Indexed;
    return (stand[method] as AnyMethod).apply(stand, args);
  }

  /** The stand-in answers a read of `name`. @returns its value. */
  read(name: string): unknown {
    return (this.#stand as unknown as Indexed)[name];
  }

  /** Node assigned `name` on the real response while held: kept for when the hold ends. */
  assigned(name: string, value: unknown): void {
    this.#assigned.set(name, value);
  }

  /** The handler assigned `statusCode` or `statusMessage`: given to the stand-in, recorded. */
  assign(property: (typeof RECORDED_PROPERTIES)[number], value: unknown): void {
    (this.#stand as unknown as Indexed)[property] = value;
    this.#recorded.push({ property, value });
  }

  #restore(): void {
    const res = this.#res;
    for (const [name, descriptor] of this.#saved) {
      if (descriptor === undefined) delete (res as unknown as Indexed)[name];
      else Object.defineProperty(res, name, descriptor);
    }
    delete (res as unknown as Record<symbol, unknown>)[HOLD];
    this.#saved.clear();
    for (const [name, value] of this.#assigned) (res as unknown as Indexed)[name] = value;
    this.#assigned.clear();
  }
}
