/**
 * Where one HTTP bench server spends its time: runs `bench/http-servers/<variant>.ts` (built as
 * the HTTP bench builds it, lib/proc.ts `buildServers`) pinned to
 * core 0 under wrk (pinned to core 1) and reports the server's CPU time per request (user +
 * system from /proc: steadier than req/s on a shared machine, since time the server waits for
 * a core is not counted), and with `--prof` a `node --cpu-prof` profile summarised by
 * function (samples of the measured run only): self time, and the share of time with scs-ts's
 * own code (src/) on the stack.
 * Not part of `npm run bench`.
 *
 * Usage: npx tsx bench/profile.ts <variant> <read|write> [--seconds=5] [--prof] [--top=25]
 *        [--by-module] [--per-request]   (µs per request, by module or by function)
 * @example npx tsx bench/profile.ts hono-scs write --prof
 * @module
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cookieFrom, probe } from "./lib/load.ts";
import { buildServers, spawnNode } from "./lib/proc.ts";
import { fmt } from "./lib/stats.ts";
import { WrkLoad } from "./lib/wrk.ts";

const [variant, mode = "read"] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const flag = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const seconds = Number(flag("seconds") ?? 5);
const top = Number(flag("top") ?? 25);
const prof = process.argv.includes("--prof");
// --by-module: self time per request (µs) summed by module, for comparing two servers' profiles;
// --per-request: the function rows in µs per request rather than % of the busy time.
const byModule = process.argv.includes("--by-module");
const perRequestRows = process.argv.includes("--per-request");
let measuredRequests = 0;
if (variant === undefined) {
  process.stderr.write("usage: npx tsx bench/profile.ts <variant> <read|write> [--prof]\n");
  process.exit(2);
}

function cpuTicks(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** The measured run, in the monotonic µs clock V8's profile timestamps use (as hrtime does). */
const window = { from: 0, to: Number.POSITIVE_INFINITY };
const dir = mkdtempSync(join(tmpdir(), "scs-profile-"));
const program = `bench/http-servers/${variant}.ts`;
const built = (await buildServers([program])).get(program)!;
const args = [...(prof ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : []), built, "0", mode];
const child = spawnNode(args, 0);
const port = await new Promise<number>((resolve, reject) => {
  let out = "";
  const timer = setTimeout(() => reject(new Error("server did not start")), 60_000);
  child.stdout!.on("data", (b: Buffer) => {
    out += b.toString();
    const m = /listening (\d+)/.exec(out);
    if (m !== null) {
      clearTimeout(timer);
      resolve(Number(m[1]));
    }
  });
  child.once("exit", (code) => reject(new Error(`server exited (${code})`)));
});
const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
try {
  const bare = variant.endsWith("-bare") || variant.endsWith("-ceiling");
  const cookie = bare
    ? `session=${"A".repeat(43)}`
    : cookieFrom((await probe(port, "/init", {})).setCookie);
  const load = new WrkLoad(1);
  const opts = {
    url: `http://127.0.0.1:${port}/`,
    connections: 50,
    durationS: 2,
    headers: { cookie },
  };
  await load.run(opts); // warm-up
  const before = cpuTicks(child.pid!);
  window.from = Number(process.hrtime.bigint() / 1000n);
  const res = await load.run({ ...opts, durationS: seconds });
  window.to = Number(process.hrtime.bigint() / 1000n);
  const ticks = cpuTicks(child.pid!) - before;
  measuredRequests = res.requests;
  const usPerRequest = (ticks * 10_000) / res.requests;
  process.stdout.write(
    `${variant} ${mode}: ${fmt(res.rps)} req/s, server CPU ${fmt(usPerRequest, 2)} µs/request (${fmt(ticks / 100 / seconds, 2)} cores)\n`,
  );
} finally {
  child.kill("SIGTERM");
  await exited;
}

if (prof) {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error("no profile written");
  summarise(JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile);
}
rmSync(dir, { recursive: true, force: true });

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Prints self time by function and the share of samples with scs-ts code on the stack. */
function summarise(p: Profile): void {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let inSrc = 0;
  // The built server is one file; esbuild marks where each module's code starts ("// src/x.ts").
  const starts: { line: number; module: string }[] = [];
  for (const [i, line] of readFileSync(built, "utf8").split("\n").entries()) {
    const m = /^\/\/ ((?:src|bench)\/\S+\.ts)$/.exec(line);
    if (m !== null) starts.push({ line: i, module: m[1]! });
  }
  const builtUrl = pathToFileURL(built).href;
  const moduleOf = (n: ProfileNode): string => {
    if (n.callFrame.url !== builtUrl) {
      return n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules)\//, "$1/");
    }
    let module = "bench";
    for (const s of starts) if (s.line <= n.callFrame.lineNumber) module = s.module;
    return module;
  };
  const name = (n: ProfileNode): string =>
    `${n.callFrame.functionName || "(anonymous)"} ${moduleOf(n)}:${n.callFrame.lineNumber + 1}`;
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    at += dt;
    // Only the measured run: not start-up, module loading or the warm-up.
    if (at < window.from || at > window.to) continue;
    const node = byId.get(p.samples[i]!)!;
    const fn = node.callFrame.functionName;
    if (fn === "(idle)" || fn === "(program)") {
      idle += dt;
      continue;
    }
    total += dt;
    const key = name(node);
    self.set(key, (self.get(key) ?? 0) + dt);
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      if (moduleOf(byId.get(id)!).startsWith("src/")) {
        inSrc += dt;
        break;
      }
    }
  }
  process.stdout.write(
    `profile: ${fmt(total / 1000)} ms busy (${fmt(idle / 1000)} ms idle/program); with scs-ts code (src/) on the stack: ${fmt((inSrc / total) * 100, 1)} %\n`,
  );
  if (byModule) {
    const modules = new Map<string, number>();
    for (const [key, us] of self) {
      const place = key.slice(key.lastIndexOf(" ") + 1).replace(/:\d+$/, "");
      // Native frames (no file) are listed by name: writev, the garbage collector, RegExps.
      const module = place === "" ? `(native) ${key.slice(0, key.lastIndexOf(" "))}` : place;
      modules.set(module, (modules.get(module) ?? 0) + us);
    }
    const perRequest = (us: number) => us / Math.max(1, measuredRequests);
    process.stdout.write(
      `self time by module, µs per request (${fmt(perRequest(total), 2)} in all):\n`,
    );
    for (const [module, us] of [...modules.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${fmt(perRequest(us), 2).padStart(7)}  ${module}\n`);
    }
    return;
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, us] of rows) {
    if (perRequestRows) {
      process.stdout.write(
        `${fmt(us / Math.max(1, measuredRequests), 3).padStart(7)} µs  ${key}\n`,
      );
      continue;
    }
    process.stdout.write(`${fmt((us / total) * 100, 1).padStart(5)} %  ${key}\n`);
  }
}
