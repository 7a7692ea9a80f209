/**
 * Random handler programs for the differential tests: sequences of the raw ServerResponse calls
 * a handler makes (valid and invalid), awaits, throws, and session calls, printed as readable
 * code so a shrunk counterexample reads as the handler that fails.
 * @module
 */
import fc from "fast-check";

/** A header value as a handler passes it, invalid ones included. */
export type HeaderValue = string | number | string[] | undefined;

/** A body chunk: short text, empty text, a small Buffer, a 100 KiB Buffer, or not a chunk. */
export type Chunk = "text" | "empty" | "bytes" | "big" | "number";

/** The headers argument of writeHead: an object, a flat [name, value, ...] array, or an odd one. */
export type HeadArg =
  | { kind: "object"; entries: [string, HeaderValue][] }
  | { kind: "array"; flat: string[] };

/** One step of a handler program. */
export type Step =
  | { op: "setHeader" | "appendHeader"; name: string; value: HeaderValue }
  | { op: "removeHeader"; name: string }
  | { op: "writeHead"; status: number | string; reason?: string; headers?: HeadArg }
  | { op: "statusCode"; status: number | string }
  | { op: "statusMessage"; text: string }
  | { op: "write"; chunk: Chunk; cb: boolean }
  | { op: "end"; chunk?: Chunk; cb: boolean }
  | { op: "flushHeaders" }
  | { op: "await"; kind: "microtask" | "immediate" | "timer"; ms: number }
  | { op: "throw" }
  | { op: "reject" }
  | { op: "put"; key: string; value: number }
  | { op: "destroy" | "renewToken"; awaited: boolean };

/** A handler program and the request it answers. */
export interface Program {
  steps: Step[];
  /** The request carries the cookie of a session already in the store. */
  cookie: boolean;
  /** Milliseconds each call of the slow store takes (variant with a delayed store). */
  delay: number;
}

/** Size of the big chunk: far above any socket highWaterMark (16 KiB on Node 20, 64 KiB later). */
export const BIG = 100 * 1024;

const bigChunk = Buffer.alloc(BIG, "0123456789abcdef");

/** The value a chunk stands for. */
export function chunkValue(chunk: Chunk): string | Buffer | number {
  switch (chunk) {
    case "text":
      return "hello";
    case "empty":
      return "";
    case "bytes":
      return Buffer.from("bytes");
    case "big":
      return bigChunk;
    case "number":
      return 123;
  }
}

/** Bytes a chunk hands to the socket (0 for the invalid one, which throws). */
export function chunkSize(chunk: Chunk): number {
  const value = chunkValue(chunk);
  return typeof value === "number" ? 0 : Buffer.byteLength(value);
}

/** The steps as run: the program's own, plus an `end()` when it has none. */
export function stepsOf(program: Program): Step[] {
  return program.steps.some((s) => s.op === "end")
    ? program.steps
    : [...program.steps, { op: "end", cb: false }];
}

// ---- generation ------------------------------------------------------------------------------

const INVALID_VALUES: HeaderValue[] = ["a\nb", undefined, ["ok", "bad\r\nvalue"]];

/** Plausible values per header name; every name also gets the invalid ones now and then. */
const VALUES: Record<string, HeaderValue[]> = {
  "X-A": ["1", "two", ["a", "b"], 7],
  "Content-Length": ["0", "5", 11],
  "Content-Type": ["text/plain", "application/json"],
  "Set-Cookie": ["app=1; Path=/", ["app=2", "other=3; HttpOnly"]],
  Vary: ["Accept", "Cookie", ["Accept", "Origin"], "*"],
  "Cache-Control": ["no-store", "max-age=60", ["private", "max-age=0"], 'no-cache="Set-Cookie"'],
  "Bad Name": ["1"],
};
const NAMES = Object.keys(VALUES);

const headerName = fc.constantFrom(...NAMES);
const headerPair: fc.Arbitrary<[string, HeaderValue]> = headerName.chain((name) =>
  fc.tuple(
    fc.constant(name),
    fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...(VALUES[name] ?? ["1"])) },
      { weight: 1, arbitrary: fc.constantFrom(...INVALID_VALUES) },
    ),
  ),
);

const VALID_STATUSES = [200, 201, 204, 304, 400, 404, 500, 599];
const INVALID_STATUSES: (number | string)[] = [99, 1000, 0, "abc", 200.5];
const status = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...VALID_STATUSES) },
  { weight: 1, arbitrary: fc.constantFrom(...INVALID_STATUSES) },
);

const chunk = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<Chunk>("text", "bytes") },
  { weight: 1, arbitrary: fc.constantFrom<Chunk>("empty", "big", "number") },
);

const headArg: fc.Arbitrary<HeadArg> = fc.oneof(
  fc.record({
    kind: fc.constant("object" as const),
    entries: fc.array(headerPair, { minLength: 1, maxLength: 2 }),
  }),
  fc.array(headerPair, { minLength: 1, maxLength: 2 }).chain((pairs) =>
    fc.record({
      kind: fc.constant("array" as const),
      flat: fc.constantFrom(
        pairs.flatMap(([n, v]) => [n, String(v)]),
        // odd length: a name without its value
        [...pairs.flatMap(([n, v]) => [n, String(v)]), "X-A"],
      ),
    }),
  ),
);

const writeHead: fc.Arbitrary<Step> = fc
  .record({
    status,
    reason: fc.option(fc.constantFrom("Fine", "bad\nreason"), { nil: undefined, freq: 3 }),
    headers: fc.option(headArg, { nil: undefined, freq: 2 }),
  })
  .map(({ status, reason, headers }) => {
    const step: Step = { op: "writeHead", status };
    if (reason !== undefined) step.reason = reason;
    if (headers !== undefined) step.headers = headers;
    return step;
  });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: headerPair.chain(([name, value]) =>
      fc.constantFrom<Step>(
        { op: "setHeader", name, value },
        { op: "appendHeader", name, value },
        { op: "removeHeader", name },
      ),
    ),
  },
  { weight: 3, arbitrary: writeHead },
  { weight: 1, arbitrary: status.map((s): Step => ({ op: "statusCode", status: s })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom("x", "bad\nmessage")
      .map((text): Step => ({ op: "statusMessage", text })),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant("write" as const), chunk, cb: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ chunk: fc.option(chunk, { nil: undefined }), cb: fc.boolean() })
      .map(
        ({ chunk, cb }): Step =>
          chunk === undefined ? { op: "end", cb } : { op: "end", chunk, cb },
      ),
  },
  { weight: 1, arbitrary: fc.constant<Step>({ op: "flushHeaders" }) },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.constant<Step>({ op: "await", kind: "microtask", ms: 0 }),
      fc.constant<Step>({ op: "await", kind: "immediate", ms: 0 }),
      fc.integer({ min: 0, max: 3 }).map((ms): Step => ({ op: "await", kind: "timer", ms })),
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom<Step>({ op: "throw" }, { op: "reject" }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("put" as const),
      key: fc.constantFrom("a", "b"),
      value: fc.nat(9),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constantFrom("destroy" as const, "renewToken" as const),
      awaited: fc.boolean(),
    }),
  },
);

/** Random programs of up to `maxSteps` steps, printed as code by fast-check. */
export function programArb(maxSteps = 10): fc.Arbitrary<Program> {
  return fc
    .record({
      steps: fc.array(stepArb, { maxLength: maxSteps }),
      cookie: fc.boolean(),
      delay: fc.integer({ min: 1, max: 5 }),
    })
    .map((p) => withPrinter(p));
}

/** Attaches the printer fast-check uses in its counterexample report. */
export function withPrinter(program: Program): Program {
  return Object.defineProperty(program, fc.toStringMethod, {
    value: () => formatProgram(program),
    enumerable: false,
  });
}

// ---- printing --------------------------------------------------------------------------------

const show = (v: unknown): string =>
  v === undefined ? "undefined" : typeof v === "number" ? String(v) : JSON.stringify(v);

function showChunk(chunk: Chunk): string {
  switch (chunk) {
    case "big":
      return "Buffer(100 KiB)";
    case "bytes":
      return 'Buffer.from("bytes")';
    default:
      return show(chunkValue(chunk));
  }
}

function showHeadArg(arg: HeadArg): string {
  if (arg.kind === "array") return show(arg.flat);
  return `{ ${arg.entries.map(([n, v]) => `${show(n)}: ${show(v)}`).join(", ")} }`;
}

/** One step as the line of handler code it runs. */
export function formatStep(step: Step): string {
  switch (step.op) {
    case "setHeader":
    case "appendHeader":
      return `res.${step.op}(${show(step.name)}, ${show(step.value)})`;
    case "removeHeader":
      return `res.removeHeader(${show(step.name)})`;
    case "writeHead": {
      const args = [show(step.status)];
      if (step.reason !== undefined) args.push(show(step.reason));
      if (step.headers !== undefined) args.push(showHeadArg(step.headers));
      return `res.writeHead(${args.join(", ")})`;
    }
    case "statusCode":
      return `res.statusCode = ${show(step.status)}`;
    case "statusMessage":
      return `res.statusMessage = ${show(step.text)}`;
    case "write":
      return `res.write(${showChunk(step.chunk)}${step.cb ? ", cb" : ""})`;
    case "end": {
      const args = [step.chunk === undefined ? [] : [showChunk(step.chunk)], step.cb ? ["cb"] : []];
      return `res.end(${args.flat().join(", ")})`;
    }
    case "flushHeaders":
      return "res.flushHeaders()";
    case "await":
      return step.kind === "microtask"
        ? "await Promise.resolve()"
        : step.kind === "immediate"
          ? "await new Promise(setImmediate)"
          : `await sleep(${step.ms})`;
    case "throw":
      return 'throw new Error("handler failed")';
    case "reject":
      return 'return Promise.reject(new Error("handler failed"))';
    case "put":
      return `sessions.from(req).put(${show(step.key)}, ${step.value})`;
    case "destroy":
    case "renewToken":
      return `${step.awaited ? "await " : ""}sessions.from(req).${step.op}()`;
  }
}

/** The whole program, one numbered step per line. */
export function formatProgram(program: Program): string {
  const own = program.steps.length;
  const lines = stepsOf(program).map(
    (step, i) =>
      `  ${String(i).padStart(2)}  ${formatStep(step)}${i >= own ? "   // appended" : ""}`,
  );
  const request = program.cookie ? "with the cookie of a stored session" : "without a cookie";
  return [
    `handler program (request ${request}, slow store delay ${program.delay} ms):`,
    ...lines,
  ].join("\n");
}
