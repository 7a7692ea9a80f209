/**
 * Starts a test server script on a runtime (Node, Bun, Deno) as a child process and waits for
 * its `listening <port>[ <runtime> <version>]` line. The child exits when its standard input closes; `stop()`
 * closes it and SIGKILLs the child by PID if it is still there after a second, and an exit
 * hook kills every child still running when the test process ends.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { RuntimeBinary } from "./binaries.ts";

/** A running test server. */
export interface RuntimeServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The runtime's name and version, as the server printed them. */
  runtime: string;
  /** The child's process id. */
  pid: number | undefined;
  /** What the child wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** Ends the child (idempotent). */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Runs `file` with `args` on `binary` and waits until it listens.
 * @returns the server.
 * @throws Error when it exits or prints nothing within `timeout` ms.
 */
export function startRuntime(
  binary: RuntimeBinary,
  file: string,
  args: readonly string[],
  env: Record<string, string> = {},
  timeout = 30_000,
): Promise<RuntimeServer> {
  if (!hooked) {
    hooked = true;
    process.on("exit", killAll);
  }
  const child = spawn(binary.path, binary.argsFor(file, args), {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
  });
  live.add(child);
  let err = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    if (err.length < 100_000) err += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  exited.then(() => live.delete(child));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin?.end();
    child.kill("SIGTERM"); // for a script that does not watch its stdin (the examples)
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) child.kill("SIGKILL");
    }, 1_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise<RuntimeServer>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${binary.name} did not listen within ${timeout} ms: ${err.slice(-2000)}`));
    }, timeout);
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      out += chunk;
      const match = /listening (\d+)(?: (\S+ \S+))?\n/.exec(out);
      if (match === null) return;
      clearTimeout(timer);
      resolve({
        url: `http://127.0.0.1:${match[1]}`,
        runtime: match[2] ?? binary.name,
        pid: child.pid,
        stderr: () => err,
        stop,
      });
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `${binary.name} exited (${code ?? signal}) before listening: ${err.slice(-2000)}`,
        ),
      );
    });
  });
}
