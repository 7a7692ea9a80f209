/**
 * Child processes for the HTTP bench: a server program started with the tsx loader, pinned
 * to a core with `taskset` when it exists, and stopped by its own pid.
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
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
 * @returns the server's port and a stop function.
 */
export function startServer(
  program: string,
  mode: string,
  core: number | undefined,
  timeoutMs = 30_000,
): Promise<ServerHandle> {
  // Started on any core (dozens of tsx start-ups on one core are slow), pinned once listening.
  const child = spawnNode(["--import", "tsx", program, "0", mode], undefined);
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
