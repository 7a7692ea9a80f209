/**
 * Load generation for the HTTP bench: autocannon in its own child process (pinned to its own
 * core when taskset exists), plus a single checked request used before every timed run.
 * @module
 */

import type { ChildProcess } from "node:child_process";
import http from "node:http";
import { createInterface } from "node:readline";
import { spawnNode } from "./proc.ts";

/** What one load run sends. */
export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  headers: Record<string, string>;
}

/** What one load run measured. */
export interface LoadResult {
  requests: number;
  durationS: number;
  /** requests per second over the whole run */
  rps: number;
  /** connection errors and timeouts */
  errors: number;
  non2xx: number;
  /** latency percentiles in ms */
  p50: number;
  p99: number;
}

/**
 * A long-lived autocannon process (load-child.ts), pinned to `core` when taskset exists,
 * that runs one load at a time.
 */
export class LoadGenerator {
  readonly tool = "autocannon";
  #child: ChildProcess;
  #lines: AsyncIterator<string>;
  #exited: Promise<void>;

  /** @param core the CPU to pin the load generator to. */
  constructor(core: number | undefined) {
    this.#child = spawnNode(["--import", "tsx", "bench/lib/load-child.ts"], core, true);
    this.#lines = createInterface({ input: this.#child.stdout! })[Symbol.asyncIterator]();
    this.#exited = new Promise((resolve) => this.#child.once("exit", () => resolve()));
  }

  /** The pid of the autocannon process (its CPU time is the bench's own). */
  get pids(): number[] {
    return this.#child.pid === undefined ? [] : [this.#child.pid];
  }

  /**
   * Runs autocannon once, pipelining 1.
   * @returns the measured throughput and latency.
   * @throws Error when autocannon failed or the process ended.
   */
  async run(opts: LoadOptions): Promise<LoadResult> {
    this.#child.stdin!.write(`${JSON.stringify(opts)}\n`);
    const next = await this.#lines.next();
    if (next.done === true) throw new Error("the load generator process ended");
    const parsed = JSON.parse(next.value) as LoadResult | { error: string };
    if ("error" in parsed) throw new Error(`load generator: ${parsed.error}`);
    return parsed;
  }

  /** Ends the process (closing its stdin) and waits for it. */
  async close(): Promise<void> {
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    timer.unref();
    await this.#exited;
    clearTimeout(timer);
  }
}

/** One response, as the pre-run check sees it. */
export interface Probe {
  status: number;
  setCookie: string[];
  body: string;
}

/**
 * Sends one GET over 127.0.0.1 (no keep-alive).
 * @returns status, Set-Cookie values and body.
 */
export function probe(port: number, path: string, headers: Record<string, string>): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, setCookie: res.headers["set-cookie"] ?? [], body }),
      );
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
  });
}

/**
 * The `Cookie` request header that echoes a response's Set-Cookie values.
 * @returns "a=1; b=2", or "" when there were none.
 */
export function cookieFrom(setCookie: string[]): string {
  return setCookie.map((c) => c.split(";")[0]!.trim()).join("; ");
}
