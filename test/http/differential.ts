/**
 * The differential harness: runs one program on the bare reference and on a session variant,
 * each over real HTTP, waits until the response and the program are done, and compares.
 * @module
 */
import fc from "fast-check";
import { compare, describeClient, type Mismatch, type Mode, type RunResult } from "./compare.ts";
import { formatProgram, formatStep, type Program, programArb, stepsOf } from "./programs.ts";
import {
  bareCookie,
  fetchOnce,
  makeStore,
  seedSession,
  sleep,
  Target,
  type TrackedStore,
} from "./servers.ts";

/**
 * Fixed seed so `npm test` is repeatable; FUZZ=1 (`npm run fuzz`) runs many more programs, and
 * FUZZ_SEED=n other ones.
 */
export const FUZZ = process.env.FUZZ === "1";
const SEED = Number.parseInt(process.env.FUZZ_SEED ?? "42", 10);
export const params = (runs: number): fc.Parameters<[Program]> => ({
  seed: Number.isSafeInteger(SEED) ? SEED : 42,
  numRuns: FUZZ ? runs * 20 : runs,
  // The message carries the differences and both runs, not only the counterexample.
  includeErrorInReport: true,
});

/**
 * Bounds shrinking in time: each shrink step re-runs a program over HTTP. Once the budget after
 * the first failure is spent, every further candidate passes at once, so fast-check stops and
 * reports the smallest failing program found so far. (fast-check's own interruptAfterTimeLimit
 * would also cut a passing run short, silently, under a loaded machine.)
 */
export class ShrinkBudget {
  #failedAt: number | undefined;
  constructor(readonly ms = FUZZ ? 120_000 : 8_000) {}
  get spent(): boolean {
    return this.#failedAt !== undefined && performance.now() - this.#failedAt > this.ms;
  }
  failed(): void {
    this.#failedAt ??= performance.now();
  }
}

/** Records uncaught exceptions and unhandled rejections while a property runs. */
export class ProcessWatch {
  #seen: string[] = [];
  readonly #onException = (err: unknown) => this.#seen.push(`uncaught exception: ${String(err)}`);
  readonly #onRejection = (err: unknown) => this.#seen.push(`unhandled rejection: ${String(err)}`);
  constructor() {
    process.on("uncaughtException", this.#onException);
    process.on("unhandledRejection", this.#onRejection);
  }
  /** What was seen since the last call. */
  take(): string[] {
    const seen = this.#seen;
    this.#seen = [];
    return seen;
  }
  stop(): void {
    process.off("uncaughtException", this.#onException);
    process.off("unhandledRejection", this.#onRejection);
  }
}

/**
 * Runs the program once on `target` and waits until everything it started has settled. An
 * escape noticed late (after the previous run settled) is counted against this run: noticed,
 * if not attributed exactly.
 */
export async function runOn(
  target: Target,
  program: Program,
  watch: ProcessWatch,
  options: { store?: TrackedStore; cookie?: string; epilogueDestroy: boolean | "own" },
): Promise<RunResult> {
  target.prepare(program, options.epilogueDestroy, options.store);
  const client = await fetchOnce(target.url, options.cookie);
  const run = target.current?.run;
  if (run !== undefined) {
    await within(Promise.all([run.done, run.closed]), 1500);
    // Callbacks and unawaited session calls still to come: give them 50 ms, then one more
    // turn for trailing ticks.
    const until = performance.now() + 50;
    while (run.pending > 0 && performance.now() < until) await sleep(1);
  }
  // Store calls still running (a commit the layer started late): up to 200 ms more, then two
  // turns of the event loop for what the layer does with their answers.
  const until = performance.now() + 200;
  while ((options.store?.inflight ?? 0) > 0 && performance.now() < until) await sleep(1);
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
  const storeWrites = options.store?.writes ?? 0;
  return {
    client,
    record: run?.record ?? {
      steps: [],
      session: [],
      callbacks: [],
      errors: [],
      finished: false,
      ended: "running",
      epilogueDestroy: false,
    },
    storeWrites,
    escapes: watch.take(),
    started: run !== undefined,
  };
}

/** Waits for `promise`, or `ms` at most. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** A bare target and a session target of one framework, both listening. */
export interface Pair {
  bare: Target;
  sessions: Target;
  close(): Promise<void>;
}

export async function startPair(framework: Target["framework"]): Promise<Pair> {
  const bare = await Target.start(framework, false);
  const sessions = await Target.start(framework, true);
  return {
    bare,
    sessions,
    close: async () => {
      await bare.close();
      await sessions.close();
    },
  };
}

/** The outcome of one program: both runs and their differences. */
export interface Checked {
  bare: RunResult;
  variant: RunResult;
  mismatches: Mismatch[];
}

/** Runs `program` bare and with sessions (`mode.store`), and compares. */
export async function check(
  pair: Pair,
  program: Program,
  mode: Mode,
  watch: ProcessWatch,
): Promise<Checked> {
  const bare = await runOn(pair.bare, program, watch, {
    cookie: program.cookie ? bareCookie() : undefined,
    epilogueDestroy: "own",
  });
  const { store, inner } = makeStore(mode.store, program);
  const cookie = program.cookie ? await seedSession(inner) : undefined;
  const variant = await runOn(pair.sessions, program, watch, {
    store,
    cookie,
    epilogueDestroy: bare.record.epilogueDestroy,
  });
  return { bare, variant, mismatches: compare(bare, variant, mode) };
}

/** Bare against bare: the harness compares only what is deterministic. */
export async function checkSelf(pair: Pair, program: Program, watch: ProcessWatch) {
  const run = () =>
    runOn(pair.bare, program, watch, {
      cookie: program.cookie ? bareCookie() : undefined,
      epilogueDestroy: "own",
    });
  const first = await run();
  const second = await run();
  return {
    bare: first,
    variant: second,
    mismatches: compare(first, second, {
      store: "sync",
      framework: pair.bare.framework,
      selfCheck: true,
    }),
  };
}

/** The failure message: the program, the differences, and both runs side by side. */
export function report(program: Program, checked: Checked, label: string): string {
  const steps = stepsOf(program);
  const line = (i: number) => formatStep(steps[i]!);
  const runLines = (r: RunResult) => [
    `    client: ${describeClient(r.client)}`,
    ...r.record.steps.map(
      (s) =>
        `    ${String(s.i).padStart(2)} ${line(s.i)} -> ${s.threw ? `threw ${s.threw}` : `returned ${String(s.ret)}`}, headersSent ${s.headersSent}, writableEnded ${s.writableEnded}`,
    ),
    ...r.record.session.map(
      (s) => `    ${String(s.i).padStart(2)} ${line(s.i)} -> ${s.how ?? ""} ${s.outcome}`,
    ),
    `    callbacks ${JSON.stringify(r.record.callbacks)}, 'error' events ${JSON.stringify(r.record.errors)}, handler ${r.record.ended}${r.record.epilogueDestroy ? ", unended response destroyed" : ""}`,
    ...(r.client.kind === "complete" ? [`    headers ${JSON.stringify(r.client.headers)}`] : []),
  ];
  return [
    `${label}: ${checked.mismatches.length} difference(s) from the bare reference`,
    ...checked.mismatches.map((m) => `  - ${m.kind}${m.detail ? `  [${m.detail}]` : ""}`),
    formatProgram(program),
    "  bare:",
    ...runLines(checked.bare),
    "  with sessions:",
    ...runLines(checked.variant),
  ].join("\n");
}

/** One property: every program behaves as on the bare reference, under `mode`. */
export function differentialProperty(
  pair: () => Pair,
  mode: Mode,
  watch: () => ProcessWatch,
  seen?: (checked: Checked) => void,
) {
  const budget = new ShrinkBudget();
  return fc.asyncProperty(programArb(), async (program) => {
    if (budget.spent) return;
    const checked = mode.selfCheck
      ? await checkSelf(pair(), program, watch())
      : await check(pair(), program, mode, watch());
    seen?.(checked);
    if (checked.mismatches.length > 0) {
      budget.failed();
      throw new Error(report(program, checked, label(mode)));
    }
  });
}

function label(mode: Mode): string {
  if (mode.selfCheck) return `${mode.framework}, bare twice`;
  const store = { sync: "MemStore", slow: "slow store", failing: "failing store" }[mode.store];
  return `${mode.framework}, ${store}`;
}

/**
 * Session steps that threw or rejected: the layer may refuse renewToken once the headers are out
 * (on purpose, not a mismatch), and destroy rejects when the store's delete fails.
 */
export function noteFailures(notes: Map<string, number>) {
  return (checked: Checked) => {
    for (const s of checked.variant.record.session) {
      if (s.outcome === "ok" || s.outcome === "skipped" || s.outcome === "pending") continue;
      const when = s.headersSentBefore ? "after the headers went out" : "before any output";
      const key = `${s.op} ${s.how ?? "failed"} ${s.outcome} ${when}`;
      notes.set(key, (notes.get(key) ?? 0) + 1);
    }
  };
}
