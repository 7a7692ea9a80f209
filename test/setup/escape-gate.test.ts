import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const fixture = (name: string) => `test/setup/fixtures/${name}.ts`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one fixture the way `npm test` runs a test file: through scripts/run-tests.mjs. */
function runFixture(name: string): Promise<Run> {
  // Without this the nested runner takes itself for a test file and runs nothing.
  const { NODE_TEST_CONTEXT: _context, SCS_ESCAPE_LOG: _log, ...env } = process.env;
  const child = spawn(process.execPath, ["scripts/run-tests.mjs", fixture(name)], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const output = (run: Run) => `${run.stdout}\n${run.stderr}`;

/** The run exits non-zero and its closing summary names the fixture, the kind and the error. */
function assertRunFailsOn(run: Run, name: string, kind: string, message: string): void {
  assert.notEqual(run.code, 0, output(run));
  assert.match(run.stderr, /^escape-gate: the run fails/m, output(run));
  assert.ok(
    run.stderr.includes(`  ${fixture(name)}: ${kind}: Error: ${message}`),
    `the run's summary names ${fixture(name)}:\n${output(run)}`,
  );
}

/** The gate printed the escaped error whole: its header, message and a frame in the fixture. */
function assertPrintedWhole(run: Run, name: string, kind: string, message: string): void {
  const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const block = new RegExp(
    `escape-gate: ${kind} in ${escaped(fixture(name))}\\n[# ]*Error: ${escaped(message)}\\n` +
      `[# ]*at .*${escaped(name)}\\.ts:\\d+:\\d+`,
  );
  assert.ok(
    block.test(run.stdout) || block.test(run.stderr),
    `the gate prints the error with its stack:\n${output(run)}`,
  );
}

/** node:test's own summary counts at least one failure (TAP on Node 20, spec from 22 on). */
const reportsAFailure = (run: Run) => /^(?:# |ℹ )fail [1-9]/m.test(run.stdout);

describe("a test file fails when an error escapes it", { concurrency: true }, () => {
  it("an unhandled rejection inside a running test fails the run, printed with its stack", async () => {
    const message = "fixture: rejection leaked inside a test";
    const run = await runFixture("rejection-in-test");
    assertRunFailsOn(run, "rejection-in-test", "unhandled rejection", message);
    assertPrintedWhole(run, "rejection-in-test", "unhandled rejection", message);
    assert.ok(reportsAFailure(run), output(run));
  });

  it("a rejection leaked in a todo test fails the file, which node:test alone passes", async () => {
    const message = "fixture: rejection leaked inside a todo test";
    const run = await runFixture("rejection-in-todo-test");
    assertRunFailsOn(run, "rejection-in-todo-test", "unhandled rejection", message);
    assert.ok(reportsAFailure(run), `the gate's root hook fails in band:\n${output(run)}`);
  });

  it("an exception thrown by a timer after the last test ended fails the file", async () => {
    const message = "fixture: thrown by a timer after the tests ended";
    const run = await runFixture("throw-after-tests");
    assertRunFailsOn(run, "throw-after-tests", "uncaught exception", message);
    assertPrintedWhole(run, "throw-after-tests", "uncaught exception", message);
    assert.ok(reportsAFailure(run), output(run));
  });

  it("an exception after node:test removed its own listeners still fails the file", async () => {
    const message = "fixture: thrown after node:test removed its listeners";
    const run = await runFixture("throw-after-runner-left");
    assertRunFailsOn(run, "throw-after-runner-left", "uncaught exception", message);
    assertPrintedWhole(run, "throw-after-runner-left", "uncaught exception", message);
    assert.ok(reportsAFailure(run), `the gate's exit code fails the file:\n${output(run)}`);
  });

  it("a late exception in a file whose todo test failed still fails the run", async () => {
    const message = "fixture: thrown by a timer beside a failed todo test";
    const run = await runFixture("throw-after-failed-todo");
    assertRunFailsOn(run, "throw-after-failed-todo", "uncaught exception", message);
  });

  it("a clean file passes and the gate prints nothing", async () => {
    const run = await runFixture("clean");
    assert.equal(run.code, 0, output(run));
    assert.doesNotMatch(output(run), /escape-gate/);
    assert.match(run.stdout, /^(?:# |ℹ )pass 1$/m, output(run));
  });
});
