/**
 * Preloaded into every test file's process by scripts/run-tests.mjs (`--import`): the file fails
 * if its process sees an uncaught exception or an unhandled rejection at any point, whether in
 * a test, in a hook, while loading, or after the last test ended (a late timer, a socket that
 * closes after the test).
 *
 * node:test alone fails the file in most of these cases, not all of them (on Node 20 to 26):
 * - an escape inside a `todo` test is reported and then not counted;
 * - node:test removes its own listeners at `beforeExit`, so a later escape is swallowed by any
 *   listener a test file left registered;
 * - the runner ignores a file's non-zero exit code when the file reported any failed test, even
 *   a `todo` one, so a late escape in such a file goes unseen; on Node 20 a file that sets
 *   `process.exitCode = 0` after an escape passes too;
 * - its report of an escape after a test ended keeps only the message, not the stack.
 *
 * So every escape is caught here three ways, each covering the others' gaps:
 * 1. printed whole (with stack and cause) to stderr, naming the file;
 * 2. in band: a root `after` hook fails, so the report counts a failure named after this file,
 *    and the exit code is forced non-zero as the process exits (escapes after the last test);
 * 3. out of band: appended to a log in the folder named by `SCS_ESCAPE_LOG`, which
 *    scripts/run-tests.mjs reads when the run ends and fails the run on, whatever node:test
 *    made of the file.
 * The gate never ends the process: node:test still fails the test it can attribute the error
 * to, and the rest of the file still runs.
 *
 * test/setup/escape-gate.test.ts proves it on fixtures, two of which node:test alone passes.
 * @module
 */
import { appendFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after } from "node:test";
import { inspect } from "node:util";

const INSTALLED = Symbol.for("scs-ts.test.fail-on-escape");
const state = globalThis as { [INSTALLED]?: true };

if (!state[INSTALLED]) {
  state[INSTALLED] = true;
  const file = process.argv[1] ? relative(process.cwd(), process.argv[1]) : "(unknown file)";
  const logDir = process.env.SCS_ESCAPE_LOG;
  const seen: string[] = [];

  const summary = () => `${seen.length} escaped error(s) in ${file}: ${seen.join(", ")}`;

  const onExit = (code: number): void => {
    // Registered at the first escape, so it runs after node:test's own exit listener.
    process.exitCode = code || 1;
    process.stderr.write(`escape-gate: ${summary()}\n`);
  };

  const gate = (kind: string) => (error: unknown) => {
    seen.push(kind);
    if (seen.length === 1) process.on("exit", onExit);
    process.exitCode = 1;
    const text = inspect(error);
    process.stderr.write(`escape-gate: ${kind} in ${file}\n${text}\n`);
    if (logDir) {
      try {
        const record = JSON.stringify({ file, kind, error: text });
        appendFileSync(join(logDir, `${process.pid}.jsonl`), `${record}\n`);
      } catch {
        // The run's log is gone (the run ended): the exit code and stderr still tell.
      }
    }
  };

  process.on("uncaughtException", gate("uncaught exception"));
  process.on("unhandledRejection", gate("unhandled rejection"));

  // Only in a file the test runner started: elsewhere a root hook would start a test report.
  if (process.env.NODE_TEST_CONTEXT !== undefined) {
    after(() => {
      if (seen.length > 0) throw new Error(`escape-gate: ${summary()}`);
    });
  }
}
