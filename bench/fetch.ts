/**
 * `scs-ts/fetch` on each runtime: req/s of `fetchSession` + MemStore against a bare fetch
 * handler with the same body, on Node (@hono/node-server), Bun (`Bun.serve`) and Deno
 * (`Deno.serve`), in one run. Each round runs, per runtime, bare / READ / WRITE back to back
 * (order reversed every other round); a ratio is variant ÷ bare of the same round, and the
 * table gives its median. The server's own CPU time per request (from /proc) is reported too:
 * unlike req/s, it does not flatten when the load tool is the bottleneck (Bun, Deno).
 *
 * Usage: `npx tsx bench/fetch.ts [--quick]`, or `npm run bench` (section 7).
 * @module
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import {
  bunBinary,
  denoBinary,
  nodeBinary,
  type RuntimeBinary,
} from "../test/runtimes/binaries.ts";
import { type RuntimeServer, startRuntime } from "../test/runtimes/spawn.ts";
import { table } from "./lib/markdown.ts";
import { fmt, median } from "./lib/stats.ts";

const SERVER = fileURLToPath(new URL("./fetch-server.ts", import.meta.url));
const CONNECTIONS = 50;
const VARIANTS = [
  { id: "bare", label: "bare fetch handler", args: ["bare", "read"] },
  { id: "read", label: "fetchSession + MemStore, READ", args: ["scs", "read"] },
  { id: "write", label: "fetchSession + MemStore, WRITE", args: ["scs", "write"] },
] as const;

const log = (msg: string): void => void process.stderr.write(`[bench fetch] ${msg}\n`);

function hasWrk(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v wrk"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** One load run: req/s and non-2xx count. wrk (one thread) when installed, else autocannon. */
async function load(url: string, cookie: string, seconds: number, wrk: boolean) {
  if (wrk) {
    const args = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "-H", `Cookie: ${cookie}`, url];
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "inherit"] });
      let text = "";
      child.stdout.on("data", (d: Buffer) => {
        text += String(d);
      });
      child.on("error", reject);
      child.on("exit", () => resolve(text));
    });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
    const bad = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    return { rps, bad };
  }
  const cli = createRequire(import.meta.url).resolve("autocannon/autocannon.js");
  const args = [
    cli,
    "-j",
    "-c",
    `${CONNECTIONS}`,
    "-d",
    `${seconds}`,
    "-H",
    `cookie=${cookie}`,
    url,
  ];
  const out = execFileSync(process.execPath, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const result = JSON.parse(out) as {
    requests: { average: number };
    non2xx: number;
    errors: number;
  };
  return { rps: result.requests.average, bad: result.non2xx + result.errors };
}

/** User + system CPU time of a process, in ms (Linux /proc; 0 elsewhere). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

interface Started {
  server: RuntimeServer;
  cookie: string;
  pid: number | undefined;
}

async function start(binary: RuntimeBinary, args: readonly string[]): Promise<Started> {
  const server = await startRuntime(binary, SERVER, args);
  const init = await fetch(`${server.url}/init`);
  await init.text();
  const set = init.headers.getSetCookie()[0];
  // The bare handler gets a session-shaped cookie too, so both parse the same request.
  const cookie = set === undefined ? `session=${"A".repeat(43)}` : (set.split(";")[0] as string);
  return { server, cookie, pid: server.pid };
}

/**
 * Runs the section.
 * @returns its markdown (a table per run, with the versions measured).
 */
export async function runFetchBench(opts: { quick: boolean }): Promise<string> {
  const rounds = opts.quick ? 2 : 5;
  const seconds = opts.quick ? 2 : 4;
  const wrk = hasWrk();
  const runtimes: RuntimeBinary[] = [nodeBinary(), bunBinary(), denoBinary()];
  const rows: string[][] = [];
  for (const binary of runtimes) {
    log(`${binary.name} ${binary.version}: ${rounds} rounds of ${seconds} s per variant`);
    const started = await Promise.all(VARIANTS.map((v) => start(binary, v.args)));
    const rps = new Map<string, number[]>(VARIANTS.map((v) => [v.id, []]));
    const cpu = new Map<string, number[]>(VARIANTS.map((v) => [v.id, []]));
    let bad = 0;
    try {
      for (const s of started) await load(`${s.server.url}/`, s.cookie, 1, wrk); // warm-up
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
        for (const i of order) {
          const s = started[i] as Started;
          const id = (VARIANTS[i] as (typeof VARIANTS)[number]).id;
          const before = cpuMs(s.pid);
          const r = await load(`${s.server.url}/`, s.cookie, seconds, wrk);
          const used = cpuMs(s.pid) - before;
          bad += r.bad;
          rps.get(id)?.push(r.rps);
          cpu.get(id)?.push(r.rps > 0 ? (used * 1000) / (r.rps * seconds) : 0);
        }
      }
    } finally {
      await Promise.all(started.map((s) => s.server.stop()));
    }
    const bareRps = rps.get("bare") ?? [];
    const bareCpu = cpu.get("bare") ?? [];
    for (const v of VARIANTS) {
      const mine = rps.get(v.id) ?? [];
      const mineCpu = cpu.get(v.id) ?? [];
      const ratios = mine.map((x, i) => x / (bareRps[i] ?? Number.NaN));
      const cpuRatios = mineCpu.map((x, i) => (bareCpu[i] ?? Number.NaN) / x);
      rows.push([
        `${binary.name} ${binary.version}`,
        v.label,
        fmt(median(mine)),
        v.id === "bare" ? "1.00" : fmt(median(ratios), 2),
        fmt(median(mineCpu), 1),
        v.id === "bare" ? "1.00" : fmt(median(cpuRatios), 2),
      ]);
    }
    if (bad > 0) log(`NOTE: ${bad} non-2xx responses or errors on ${binary.name}`);
  }
  return [
    table(
      ["runtime", "variant", "req/s", "of bare (req/s)", "server CPU µs/req", "of bare (CPU)"],
      rows,
      ["left", "left", "right", "right", "right", "right"],
    ),
    "",
    `Median of ${rounds} rounds of ${seconds} s per variant, ${CONNECTIONS} keep-alive connections over 127.0.0.1, load by ${wrk ? "wrk (one thread)" : "autocannon"}; each round runs bare, READ and WRITE back to back on one runtime (order reversed every other round), and a ratio is taken within its round. READ: the request carries the cookie of an existing session and the handler reads a value (no Set-Cookie). WRITE: every request increments a counter in the session, so every response commits it and sets the cookie. "of bare (CPU)" is the bare server's CPU time per request ÷ the variant's: the throughput ratio a CPU-bound server would show, unaffected by a load tool that saturates before the server does.`,
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${await runFetchBench({ quick: process.argv.includes("--quick") })}\n`);
}
