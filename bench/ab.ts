/**
 * A/B of HTTP bench servers by CPU time per request: for deciding an optimisation on a shared
 * machine, where req/s moves with other processes' load but the server's own CPU time per
 * request (user + system, from /proc) moves much less. Each server runs pinned to core 0 under
 * wrk pinned to core 1; the variants alternate for `--rounds` runs of `--seconds` each.
 * Reports per variant the median and minimum µs of server CPU per request, and the ratio of
 * the first variant's median to each one's (≈ the req/s ratio on a quiet, server-bound core).
 * Not part of `npm run bench`.
 *
 * Usage: npx tsx bench/ab.ts <read|write> <variant|path.ts>... [--rounds=8] [--seconds=2] [--tsx]
 * @example npx tsx bench/ab.ts write node-bare node-scs
 * @module
 */
import { readFileSync } from "node:fs";
import { cookieFrom, probe } from "./lib/load.ts";
import { buildServers, type ServerHandle, startServer } from "./lib/proc.ts";
import type { Mode } from "./lib/server-common.ts";
import { fmt, median } from "./lib/stats.ts";
import { WrkLoad } from "./lib/wrk.ts";

const positional = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const flag = (name: string, fallback: number): number =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const [mode, ...variants] = positional as [Mode, ...string[]];
const rounds = flag("rounds", 8);
const seconds = flag("seconds", 2);
if (mode === undefined || variants.length === 0) {
  process.stderr.write("usage: npx tsx bench/ab.ts <read|write> <variant>... [--rounds=8]\n");
  process.exit(2);
}

function cpuTicks(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

const servers: { id: string; server: ServerHandle; cookie: string; us: number[]; rps: number[] }[] =
  [];
const load = new WrkLoad(1);
try {
  // A name is a program in bench/http-servers/; a path (with a slash) is taken as it is.
  const programOf = (id: string) => (id.includes("/") ? id : `bench/http-servers/${id}.ts`);
  // --tsx: run the TypeScript programs through tsx, as the bench did before it built them.
  const built = process.argv.includes("--tsx")
    ? new Map<string, string>()
    : await buildServers(variants.map(programOf));
  for (const id of variants) {
    const program = programOf(id);
    const server = await startServer(program, mode, 0, 120_000, built.get(program));
    const bare = id.endsWith("-bare") || id.endsWith("-ceiling");
    const cookie = bare
      ? `session=${"A".repeat(43)}`
      : cookieFrom((await probe(server.port, "/init", {})).setCookie);
    servers.push({ id, server, cookie, us: [], rps: [] });
  }
  const run = (s: (typeof servers)[number], durationS: number) =>
    load.run({
      url: `http://127.0.0.1:${s.server.port}/`,
      connections: 50,
      durationS,
      headers: { cookie: s.cookie },
    });
  for (const s of servers) await run(s, 2); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 === 0 ? servers : [...servers].reverse()) {
      const before = cpuTicks(s.server.pid);
      const res = await run(s, seconds);
      s.us.push(((cpuTicks(s.server.pid) - before) * 10_000) / res.requests);
      s.rps.push(res.rps);
    }
  }
} finally {
  for (const s of servers) await s.server.stop();
}
const first = median(servers[0]!.us);
for (const s of servers) {
  const m = median(s.us);
  process.stdout.write(
    `${mode} ${s.id.padEnd(28)} CPU/request median ${fmt(m, 2)} µs, min ${fmt(Math.min(...s.us), 2)} µs; ${fmt(first / m, 3)} of ${servers[0]!.id}; req/s median ${fmt(median(s.rps))}\n`,
  );
}
