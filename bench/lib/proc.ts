/**
 * Child processes for the HTTP bench: a server program started with the tsx loader, pinned
 * to a core with `taskset` when it exists, and stopped by its own pid.
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./machine.ts";

let tasksetChecked: boolean | undefined;

/** @returns whether `taskset` is on the PATH (checked once). */
export function hasTaskset(): boolean {
  if (tasksetChecked === undefined) {
    try {
      execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
      tasksetChecked = true;
    } catch {
      tasksetChecked = false;
    }
  }
  return tasksetChecked;
}

/**
 * Spawns `node ...args`, pinned to `core` when taskset exists.
 * @param stdin pipe stdin (to send the child commands). @default false
 * @returns the child process (stdout piped, stderr inherited).
 */
export function spawnNode(args: string[], core: number | undefined, stdin = false): ChildProcess {
  const pinned = core !== undefined && hasTaskset();
  const cmd = pinned ? "taskset" : process.execPath;
  const argv = pinned ? ["-c", String(core), process.execPath, ...args] : args;
  return spawn(cmd, argv, { cwd: ROOT, stdio: [stdin ? "pipe" : "ignore", "pipe", "inherit"] });
}

/** Where {@link buildServers} writes the server programs. */
const BUILT = join(ROOT, "bench", "out", "servers");

/**
 * Bundles bench server programs (bench/http-servers/<id>.ts and the scs-ts source they import)
 * into plain ES modules with esbuild, as tsup builds the package: packages stay external and
 * are loaded from node_modules, and nothing is added to the code. So a server runs scs-ts as
 * an application runs the built package, not through tsx, whose transform (esbuild with
 * `keepNames`) wraps every function expression our code creates per request in a `__name`
 * call that the published build does not have. It also spares each server a tsx start-up.
 * @param programs paths relative to the repository root.
 * @returns program path → built file (absolute), for {@link startServer}.
 */
export async function buildServers(programs: readonly string[]): Promise<Map<string, string>> {
  const { build } = await import("esbuild");
  mkdirSync(BUILT, { recursive: true });
  const out = new Map<string, string>();
  for (const program of programs) {
    const file = join(BUILT, `${program.replace(/^.*\//, "").replace(/\.ts$/, "")}.mjs`);
    await build({
      entryPoints: [join(ROOT, program)],
      outfile: file,
      bundle: true,
      packages: "external",
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "warning",
    });
    out.set(program, file);
  }
  return out;
}

/** A running bench server. */
export interface ServerHandle {
  port: number;
  /** The server process's pid (taskset execs node, so it is node's). */
  pid: number;
  /** Kills exactly this child and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `node --import tsx <program> 0 <mode>`, waits for the line `listening <port>`, then
 * pins the process to `core`.
 * @param program path relative to the repository root, e.g. "bench/http-servers/node-bare.ts".
 * @param core the CPU to pin the server to.
 * @param timeoutMs how long to wait for the server. @default 30_000
 * @param built the program as {@link buildServers} built it (run with plain node); without
 *   it the TypeScript program runs through tsx.
 * @returns the server's port and a stop function.
 */
export function startServer(
  program: string,
  mode: string,
  core: number | undefined,
  timeoutMs = 30_000,
  built?: string,
): Promise<ServerHandle> {
  // Started on any core (dozens of tsx start-ups on one core are slow), pinned once listening.
  const args = built === undefined ? ["--import", "tsx", program] : [built];
  const child = spawnNode([...args, "0", mode], undefined);
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${program} ${mode} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${program} ${mode} exited early (${code})`));
    });
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /listening (\d+)/.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      child.stdout!.removeAllListeners("data");
      child.stdout!.resume();
      if (core !== undefined && hasTaskset() && child.pid !== undefined) {
        // -a: every thread of the process (libuv's pool, V8's workers), not only the main one.
        execFileSync("taskset", ["-a", "-p", "-c", String(core), String(child.pid)], {
          stdio: "ignore",
        });
      }
      resolve({
        port: Number(m[1]),
        pid: child.pid ?? 0,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          await exited;
        },
      });
    });
  });
}
