// Checks the built package against package.json "exports": every tsup entry has an exports
// entry, every file it names exists, both module systems load it, and the core entry pulls in
// no runtime dependency and no framework.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const tsupConfig = readFileSync("tsup.config.ts", "utf8");
const entryNames = [...tsupConfig.matchAll(/^\s+"?([\w-]+)"?: "src\/[^"]+\.ts",?$/gm)].map(
  (m) => m[1],
);
const failures = [];

for (const name of entryNames) {
  const subpath = name === "index" ? "." : `./${name}`;
  const entry = pkg.exports[subpath];
  if (entry === undefined) {
    failures.push(`tsup entry "${name}" has no exports["${subpath}"]`);
    continue;
  }
  for (const file of [
    entry.import.types,
    entry.import.default,
    entry.require.types,
    entry.require.default,
  ]) {
    if (!existsSync(file))
      failures.push(`exports["${subpath}"] names ${file}, which was not built`);
  }
}
for (const subpath of Object.keys(pkg.exports)) {
  if (subpath === "./package.json") continue;
  const name = subpath === "." ? "index" : subpath.slice(2);
  if (!entryNames.includes(name)) failures.push(`exports["${subpath}"] has no tsup entry`);
}

// The core entry: only node: built-ins and its own chunks.
const require = createRequire(import.meta.url);
const before = new Set(Object.keys(require.cache));
const core = require("../dist/index.cjs");
if (typeof core.SessionManager !== "function")
  failures.push("dist/index.cjs has no SessionManager");
const esm = await import("../dist/index.js");
if (typeof esm.SessionManager !== "function") failures.push("dist/index.js has no SessionManager");
for (const file of Object.keys(require.cache)) {
  if (before.has(file)) continue;
  if (file.includes("node_modules")) failures.push(`importing scs-ts loaded ${file}`);
}
// Follow the core entry's own chunks: every import must be a node: built-in or a chunk.
const queue = ["dist/index.js", "dist/index.cjs"];
const seen = new Set(queue);
while (queue.length > 0) {
  const file = queue.shift();
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(/(?:from\s+|import\s*\(?\s*|require\()\s*["']([^"']+)["']/g)) {
    const spec = m[1];
    if (spec.startsWith("./")) {
      const chunk = `dist/${spec.slice(2)}`;
      if (!seen.has(chunk)) {
        seen.add(chunk);
        queue.push(chunk);
      }
    } else if (!spec.startsWith("node:")) {
      failures.push(`${file} imports ${spec}: the core entry must have no runtime dependency`);
    }
  }
}

// One class per concept across entries, in both module systems: errors thrown by the rqlite
// entry must be instanceof the classes users import from the core entry.
const cjsMem = require("../dist/memstore.cjs");
if (cjsMem.MemStore !== core.MemStore)
  failures.push("CJS memstore entry has its own MemStore copy");
const esmMem = await import("../dist/memstore.js");
if (esmMem.MemStore !== esm.MemStore) failures.push("ESM memstore entry has its own MemStore copy");
for (const [label, rq, coreErrors] of [
  ["CJS", require("../dist/rqlitestore.cjs"), core],
  ["ESM", await import("../dist/rqlitestore.js"), esm],
]) {
  const store = new rq.RqliteStore(
    new rq.RqliteConnection({ nodes: "http://127.0.0.1:1", deadline: 200 }),
    { cleanupInterval: 0 },
  );
  const err = await Promise.resolve(store.find("x".repeat(43))).then(
    () => undefined,
    (e) => e,
  );
  await store.close();
  if (!(err instanceof coreErrors.StoreUnavailableError)) {
    failures.push(
      `${label}: RqliteStore's errors are not instanceof scs-ts's StoreUnavailableError`,
    );
  }
}

if (failures.length > 0) {
  for (const f of failures) console.error(`check-exports: ${f}`);
  process.exit(1);
}
console.log(`check-exports: ${entryNames.length} entries match package.json exports`);
