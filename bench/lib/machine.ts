/**
 * What RESULTS.md records about the run: machine, versions, commit, command.
 * @module
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";

/** The repository root (bench/lib/../..). */
export const ROOT = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "..");

/**
 * The installed version of a package in node_modules.
 * @returns the version, or "not installed".
 */
export function versionOf(pkg: string): string {
  try {
    const text = readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8");
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

/**
 * The scs-ts commit the run measured, marked when src/ has uncommitted changes.
 * @returns e.g. "0bfe27e" or "0bfe27e + uncommitted src changes".
 */
export function commitOf(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT })
      .toString()
      .trim();
    return dirty === "" ? head : `${head} + uncommitted src changes`;
  } catch {
    return "unknown";
  }
}

/** @returns wrk's version, or "not installed". */
function wrkVersion(): string {
  try {
    // wrk -v prints its version and exits with status 1.
    execFileSync("wrk", ["-v"], { stdio: "pipe" });
  } catch (err) {
    const out = String((err as { stdout?: Buffer }).stdout ?? "");
    const m = /wrk (\S+)/.exec(out);
    if (m !== null) return m[1]!;
  }
  return "not installed";
}

/** @returns one line: CPU model, cores, memory, OS. */
export function machineLine(): string {
  const cpus = os.cpus();
  const gib = (os.totalmem() / 2 ** 30).toFixed(1);
  return `${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores, ${gib} GiB memory, ${os.type()} ${os.release()} (${os.arch()})`;
}

/** @returns one line of versions: node and every peer the bench compares against. */
export function versionsLine(): string {
  const pkgs = [
    "express",
    "express-session",
    "fastify",
    "@fastify/session",
    "@fastify/cookie",
    "koa",
    "koa-session",
    "hono",
    "@hono/node-server",
    "hono-sessions",
    "memorystore",
    "lru-cache",
    "autocannon",
  ];
  return [
    `node ${process.version}`,
    ...pkgs.map((p) => `${p} ${versionOf(p)}`),
    `wrk ${wrkVersion()}`,
    `scs-ts commit ${commitOf()}`,
  ].join(", ");
}
