/**
 * The catalogue of differences: runs the differential programs of one variant to the end
 * (the property stops at the first failure), counts the programs with each kind of difference,
 * then shrinks one program per kind.
 *
 *   node --import tsx test/http/catalogue.ts <node|express4|express5|koa> <sync|slow|failing> [runs]
 *
 * Not a test: a tool for whoever fixes the response path, to see every kind at once.
 * @module
 */
import fc from "fast-check";
import type { Mode } from "./compare.ts";
import { check, ProcessWatch, report, ShrinkBudget, startPair } from "./differential.ts";
import { type Program, programArb } from "./programs.ts";
import type { Framework, StoreKind } from "./servers.ts";

const [framework = "node", store = "sync", runsArg = "250"] = process.argv.slice(2);
const mode: Mode = { framework: framework as Framework, store: store as StoreKind };
const runs = Number(runsArg);
const pair = await startPair(mode.framework);
const watch = new ProcessWatch();

const counts = new Map<string, number>();
let mismatched = 0;
for (const program of fc.sample(programArb(), { seed: 42, numRuns: runs })) {
  const { mismatches } = await check(pair, program, mode, watch);
  if (mismatches.length > 0) mismatched++;
  for (const kind of new Set(mismatches.map((m) => m.kind))) {
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
}
console.log(`# ${framework}, ${store}: ${runs} programs, ${mismatched} with differences`);
const kinds = [...counts].sort((a, b) => b[1] - a[1]);
for (const [kind, count] of kinds) console.log(`${String(count).padStart(5)}  ${kind}`);

for (const [kind] of kinds) {
  const budget = new ShrinkBudget(10_000);
  const result = await fc.check(
    fc.asyncProperty(programArb(), async (program) => {
      if (budget.spent) return true;
      const { mismatches } = await check(pair, program, mode, watch);
      const found = mismatches.some((m) => m.kind === kind);
      if (found) budget.failed();
      return !found;
    }),
    { seed: 42, numRuns: runs * 4 },
  );
  console.log(`\n## ${kind}`);
  const program = result.counterexample?.[0] as Program | undefined;
  if (program === undefined) {
    console.log("(not found again)");
    continue;
  }
  console.log(report(program, await check(pair, program, mode, watch), `${framework}, ${store}`));
}
watch.stop();
await pair.close();
