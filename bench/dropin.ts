/**
 * The express-session drop-in's throughput next to express-session's and scs-ts/express's:
 * the servers of bench/http.ts (bare Express 5 as the baseline) plus
 * http-servers/express-session-dropin.ts, in READ and WRITE modes, each server in its own
 * child process pinned to core 0 and autocannon pinned to core 1, as bench/http.ts runs them.
 * Not part of `npm run bench`, which has these rows (and the Fastify and Koa drop-ins) in its
 * HTTP section; this is the quick look at Express alone. Prints a markdown table.
 *
 * Usage: npx tsx bench/dropin.ts [--quick]
 * @module
 */
import { cookieFrom, LoadGenerator, probe } from "./lib/load.ts";
import { table } from "./lib/markdown.ts";
import { hasTaskset, type ServerHandle, startServer } from "./lib/proc.ts";
import type { Mode } from "./lib/server-common.ts";
import { fmt, median } from "./lib/stats.ts";

const VARIANTS = [
  ["express-bare", "bare Express 5"],
  ["express-scs", "scs-ts/express + MemStore"],
  ["express-session-dropin", "scs-ts/express-session + MemStore"],
  ["express-session-memory", "express-session + MemoryStore"],
] as const;
const MODES: Mode[] = ["read", "write"];
const quick = process.argv.includes("--quick");
const rounds = quick ? 2 : 3;
const durationS = quick ? 1 : 3;
const log = (msg: string): void => void process.stderr.write(`[dropin] ${msg}\n`);

if (!hasTaskset()) log("taskset not found: server and load generator are not pinned");
const gen = new LoadGenerator(1);
const servers: ServerHandle[] = [];
const rows: string[][] = [];
try {
  for (const mode of MODES) {
    const cells: {
      id: string;
      label: string;
      server: ServerHandle;
      cookie: string;
      rps: number[];
    }[] = [];
    for (const [id, label] of VARIANTS) {
      const server = await startServer(`bench/http-servers/${id}.ts`, mode, 0);
      servers.push(server);
      const cookie =
        id === "express-bare"
          ? `session=${"A".repeat(43)}`
          : cookieFrom((await probe(server.port, "/init", {})).setCookie);
      const check = await probe(server.port, "/", { cookie });
      if (check.status !== 200) log(`WARNING ${id} ${mode}: status ${check.status}`);
      cells.push({ id, label, server, cookie, rps: [] });
    }
    const load = (c: (typeof cells)[number], seconds: number) =>
      gen.run({
        url: `http://127.0.0.1:${c.server.port}/`,
        connections: 50,
        durationS: seconds,
        headers: { cookie: c.cookie },
      });
    for (const c of cells) await load(c, 1);
    for (let r = 0; r < rounds; r++) {
      for (const c of r % 2 === 0 ? cells : [...cells].reverse()) {
        const result = await load(c, durationS);
        c.rps.push(result.rps);
        log(`round ${r + 1}/${rounds} ${mode} ${c.id}: ${fmt(result.rps)} req/s`);
      }
    }
    const base = median(cells[0]!.rps);
    for (const c of cells) {
      const rps = median(c.rps);
      rows.push([mode.toUpperCase(), c.label, fmt(rps), fmt(rps / base, 2)]);
    }
  }
} finally {
  for (const s of servers) await s.stop();
  await gen.close();
}
process.stdout.write(`${table(["mode", "server", "req/s (median)", "vs bare Express"], rows)}\n`);
