/**
 * Shared checks of the rqlite fault tests: what every request during a fault may get, and what
 * must hold once the fault is repaired.
 * @module
 */
import assert from "node:assert/strict";
import { type FaultRun, formatReport } from "../helpers/load.ts";

/** Context a fault test keeps while its cluster runs. */
export interface FaultContext {
  unhandled: unknown[];
  logged: { errors: number };
  clientTimeout: number;
}

/**
 * Prints the run and asserts: only 2xx/303/503 answers, no request past the client timeout,
 * service back by itself, no acknowledged write lost, no unhandled rejection.
 */
export function assertFaultRun(label: string, run: FaultRun, ctx: FaultContext): void {
  const { report } = run;
  console.log(formatReport(label, report));
  console.log(
    `  fault at ${run.faultAt} ms, repaired at ${run.repairedAt} ms; first success after fault +${(run.firstSuccessAfterFault ?? Number.NaN) - run.faultAt} ms, after repair +${(run.firstSuccessAfterRepair ?? Number.NaN) - run.repairedAt} ms; longest gap without success ${run.longestGap} ms; during fault ${JSON.stringify(run.duringFault)}; slowest request from the fault on ${run.slowestDuringFault} ms; errors logged so far ${ctx.logged.errors}`,
  );
  for (const outcome of Object.keys(report.outcomes)) {
    assert.ok(["200", "303", "503"].includes(outcome), `only 2xx/303/503, got ${outcome}`);
  }
  assert.equal(report.timeouts, 0, "no request hung past the deadline and margin");
  assert.ok(run.slowestDuringFault < ctx.clientTimeout);
  assert.notEqual(run.firstSuccessAfterRepair, undefined, "service came back by itself");
  assert.equal(report.lostWrites, 0, "no acknowledged write lost");
  assert.equal(report.unexplainedGains, 0);
  assert.equal(report.unverifiedClients, 0, "every client read its counter afterwards");
  assert.deepEqual(ctx.unhandled, [], "no unhandled rejection");
}
