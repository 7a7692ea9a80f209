// Runs every test/**/*.test.ts file with node:test through tsx, on the Node that runs this
// script (process.execPath), so scripts/test-node-lines.mjs can start it with another binary.
// Node 20's --test does not expand globs, so this script lists the files itself.
//
// Each test file's process preloads test/setup/fail-on-escape.ts: the file fails if it ever sees
// an uncaught exception or an unhandled rejection, also after its last test has ended. The gate
// also logs each escape to a folder this script reads at the end, so the run fails on an escape
// even where node:test would pass the file (see the gate's header).
//
// Usage: node scripts/run-tests.mjs [filter...] [--exclude substring]...
//   filter      run only the files whose path contains one of these substrings; an argument
//               that names an existing file is run as given, even outside test/ (the escape
//               gate's own test runs its fixtures this way)
//   --exclude   leave out the files whose path contains this substring (repeatable;
//               --exclude=substring works too)
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const GATE = new URL("../test/setup/fail-on-escape.ts", import.meta.url).href;

function list(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...list(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

function parse(argv) {
  const filters = [];
  const excludes = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--exclude") {
      const value = argv[++i];
      if (!value) throw new TypeError("option --exclude needs a substring");
      excludes.push(value);
    } else if (arg.startsWith("--exclude=")) {
      excludes.push(arg.slice("--exclude=".length));
    } else if (arg.startsWith("--")) {
      throw new TypeError(`unknown option ${arg}`);
    } else {
      filters.push(arg);
    }
  }
  return { filters, excludes };
}

const { filters, excludes } = parse(process.argv.slice(2));
const given = filters.filter((f) => existsSync(f) && statSync(f).isFile());
const substrings = filters.filter((f) => !given.includes(f));
const listed =
  substrings.length === 0 && given.length > 0
    ? []
    : list("test").filter((f) => substrings.length === 0 || substrings.some((s) => f.includes(s)));
const files = [...new Set([...given, ...listed])]
  .filter((f) => !excludes.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const escapeLog = mkdtempSync(join(tmpdir(), "scs-escapes-"));

/** The escapes the gate logged, one line per file and kind (the full errors are on stderr). */
function escapes() {
  const lines = [];
  for (const name of readdirSync(escapeLog).sort()) {
    for (const line of readFileSync(join(escapeLog, name), "utf8").split("\n")) {
      if (!line) continue;
      const { file, kind, error } = JSON.parse(line);
      lines.push(`  ${file}: ${kind}: ${error.split("\n")[0]}`);
    }
  }
  return [...new Set(lines)];
}

const child = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    "--import",
    GATE,
    "--test",
    "--test-concurrency=2",
    "--test-timeout=180000",
    ...files,
  ],
  { stdio: "inherit", env: { ...process.env, SCS_TEST: "1", SCS_ESCAPE_LOG: escapeLog } },
);
child.on("exit", (code, signal) => {
  const escaped = escapes();
  rmSync(escapeLog, { recursive: true, force: true });
  if (escaped.length > 0) {
    console.error(`escape-gate: the run fails: errors escaped in these test files:`);
    for (const line of escaped) console.error(line);
  }
  process.exit(code || (signal || escaped.length > 0 ? 1 : 0));
});
