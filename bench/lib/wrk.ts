/**
 * Load generation with wrk (the HTTP bench's default): one `wrk` process per run, pinned to
 * its own core with taskset, one thread, keep-alive connections. When wrk is missing the
 * bench installs Debian's package (as root or with `sudo -n`, under the shared apt lock) or,
 * failing that, falls back to autocannon (load.ts).
 * @module
 */
import { execFileSync, spawn } from "node:child_process";
import type { LoadOptions, LoadResult } from "./load.ts";
import { hasTaskset } from "./proc.ts";

/** What runs one load at a time: wrk here, autocannon in load.ts. */
export interface Load {
  /** Which tool, for the report. */
  readonly tool: string;
  /** Long-lived processes of the tool, whose CPU time is the bench's own. */
  readonly pids: number[];
  /** Runs one load; the promise settles once the tool's process has exited. */
  run(opts: LoadOptions): Promise<LoadResult>;
  close(): Promise<void>;
}

function onPath(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether wrk is available, installing Debian's package when it is not (bounded to 5 minutes).
 * @returns true when `wrk` is on the PATH afterwards.
 */
export function ensureWrk(log: (msg: string) => void): boolean {
  if (onPath("wrk")) return true;
  const root = process.getuid?.() === 0;
  const sudo = root ? "" : "sudo -n ";
  log("wrk not found: installing Debian's wrk package");
  try {
    execFileSync(
      "flock",
      [
        "/tmp/scs-apt.lock",
        "sh",
        "-c",
        `${sudo}apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${sudo}apt-get install -y -qq wrk`,
      ],
      { stdio: "ignore", timeout: 300_000 },
    );
  } catch {
    log("could not install wrk");
  }
  return onPath("wrk");
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function latencyMs(text: string | undefined): number {
  const m = /([\d.]+)(us|ms|s|m)\b/.exec(text ?? "");
  return m === null ? Number.NaN : Number(m[1]) * UNIT_MS[m[2]!]!;
}

/**
 * Reads wrk's report.
 * @returns the figures, or throws when the report has no request count.
 */
export function parseWrk(out: string): LoadResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (total === null) throw new Error(`unexpected wrk output: ${out.slice(0, 200)}`);
  const requests = Number(total[1]);
  const durationS = (Number(total[2]) * UNIT_MS[total[3]!]!) / 1000;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = socket === null ? 0 : socket.slice(1).reduce((n, x) => n + Number(x), 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    requests,
    durationS,
    rps: requests / durationS,
    errors,
    non2xx,
    p50: latencyMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99: latencyMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
  };
}

/** wrk, pinned to `core` when taskset exists; one thread (it has one core). */
export class WrkLoad implements Load {
  readonly tool = "wrk";
  // Each wrk run is a child that has exited (and been reaped) when its run settles.
  readonly pids: number[] = [];
  readonly #core: number | undefined;

  constructor(core: number | undefined) {
    this.#core = core;
  }

  run(opts: LoadOptions): Promise<LoadResult> {
    const args = ["-t1", `-c${opts.connections}`, `-d${opts.durationS}s`, "--latency"];
    for (const [name, value] of Object.entries(opts.headers)) args.push("-H", `${name}: ${value}`);
    args.push(opts.url);
    const pinned = this.#core !== undefined && hasTaskset();
    const child = pinned
      ? spawn("taskset", ["-c", String(this.#core), "wrk", ...args], {
          stdio: ["ignore", "pipe", "pipe"],
        })
      : spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      out += b.toString();
    });
    // Bounded: wrk stops by itself after the duration; a hung one is killed.
    const timer = setTimeout(() => child.kill("SIGKILL"), (opts.durationS + 30) * 1000);
    timer.unref();
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => {
        clearTimeout(timer);
        if (code !== 0) {
          reject(new Error(`wrk exited with ${code}: ${out.slice(0, 200)}`));
          return;
        }
        try {
          resolve(parseWrk(out));
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  async close(): Promise<void> {}
}
