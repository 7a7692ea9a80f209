/**
 * The load generator process: reads one JSON {@link LoadOptions} per stdin line, runs
 * autocannon's programmatic API with it, and writes one JSON {@link LoadResult} per stdout
 * line. Started once by `LoadGenerator` (load.ts) so the load never shares a process (or,
 * with taskset, a core) with the server, and so no run pays a process start.
 * @module
 */
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import type { LoadOptions, LoadResult } from "./load.ts";

interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p99: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (
  opts: Record<string, unknown>,
  cb: (err: Error | null, result: AutocannonResult) => void,
) => unknown;

const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

function run(opts: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        pipelining: 1,
        duration: opts.durationS,
        headers: opts.headers,
      },
      (err, r) => {
        if (err !== null) {
          reject(err);
          return;
        }
        resolve({
          requests: r.requests.total,
          durationS: r.duration,
          rps: r.requests.total / r.duration,
          errors: r.errors + r.timeouts,
          non2xx: r.non2xx,
          p50: r.latency.p50,
          p99: r.latency.p99,
        });
      },
    );
  });
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() === "") continue;
  try {
    const result = await run(JSON.parse(line) as LoadOptions);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ error: String(err) })}\n`);
  }
}
