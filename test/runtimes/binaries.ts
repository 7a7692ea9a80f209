/**
 * The Bun and Deno binaries the runtime tests run: the ones the dev dependencies `bun` and
 * `deno` ship (each inside its platform package, linked into place by its install script).
 * @module
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

function packageDir(name: string): string | undefined {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

function firstExecutable(paths: (string | undefined)[]): string | undefined {
  for (const path of paths) {
    if (path === undefined || !existsSync(path)) continue;
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not executable: try the next
    }
  }
  return undefined;
}

/** A runtime binary, its version and how to start a TypeScript file on it. */
export interface RuntimeBinary {
  name: "node" | "bun" | "deno";
  path: string;
  version: string;
  /** The arguments that run `file` with `args`. */
  argsFor(file: string, args: readonly string[]): string[];
}

function versionOf(path: string, parse: (out: string) => string): string {
  return parse(execFileSync(path, ["--version"], { encoding: "utf8", timeout: 10_000 }));
}

/**
 * Bun from the `bun` dev dependency.
 * @throws Error when the package or its binary is missing (run `npm ci`).
 */
export function bunBinary(): RuntimeBinary {
  const pkg = packageDir("bun");
  const platform = packageDir(`@oven/bun-${process.platform}-${process.arch}`);
  const path = firstExecutable([
    pkg && join(pkg, "bin", "bun.exe"),
    platform && join(platform, "bin", "bun"),
  ]);
  if (path === undefined) throw new Error("no Bun binary: the bun dev dependency is missing");
  return {
    name: "bun",
    path,
    version: versionOf(path, (out) => out.trim()),
    argsFor: (file, args) => [file, ...args],
  };
}

/**
 * Deno from the `deno` dev dependency, with network access to the loopback only.
 * @throws Error when the package or its binary is missing (run `npm ci`).
 */
export function denoBinary(): RuntimeBinary {
  const pkg = packageDir("deno");
  const platform = packageDir(
    `@deno/${process.platform}-${process.arch === "x64" ? "x64" : process.arch}-glibc`,
  );
  const path = firstExecutable([pkg && join(pkg, "deno"), platform && join(platform, "deno")]);
  if (path === undefined) throw new Error("no Deno binary: the deno dev dependency is missing");
  return {
    name: "deno",
    path,
    version: versionOf(path, (out) => /deno (\S+)/.exec(out)?.[1] ?? out.trim()),
    argsFor: (file, args) => [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-read",
      "--no-lock",
      file,
      ...args,
    ],
  };
}

/** The Node running the tests, with tsx for TypeScript. */
export function nodeBinary(): RuntimeBinary {
  return {
    name: "node",
    path: process.execPath,
    version: process.versions.node,
    argsFor: (file, args) => ["--import", "tsx", file, ...args],
  };
}
