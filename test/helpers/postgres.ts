/**
 * Test harness for a real PostgreSQL from Debian: installs the `postgresql` package when it is
 * missing (apt-get, as root or through `sudo -n`, like scripts/ensure-chromium.mjs), then runs
 * `initdb` and `pg_ctl` as an unprivileged user (PostgreSQL refuses root) in a temp dir, on a
 * free 127.0.0.1 port, with password auth over TCP. Servers are stopped by `destroy()`, and
 * killed by PID when the test process exits or is interrupted, also after a failed test.
 *
 * Used by test/stores/postgres*.test.ts, test/stores/model.property.test.ts and bench/sql.ts.
 * @module
 */
import { execFile, spawnSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./rqlite.ts";

const PASSWORD = "scs-test-pw-9f3a";
/** Servers running now, and every server made and not yet destroyed (their dirs). */
const live = new Set<PgServer>();
const created = new Set<PgServer>();
let hooksInstalled = false;

/** Where Debian puts the server binaries: /usr/lib/postgresql/<major>/bin. */
function binDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], "bin");
}

const asRoot = typeof process.getuid === "function" && process.getuid() === 0;

const ENV = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  LC_ALL: "C",
  DEBIAN_FRONTEND: "noninteractive",
};

/** Runs a command to completion (blocking: setup only). @returns its stdout. */
function run(cmd: string, args: string[], options: { uid?: number; gid?: number } = {}): string {
  const result = spawnSync(cmd, args, { encoding: "utf8", env: ENV, cwd: "/", ...options });
  if (result.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${result.status ?? result.signal}): ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

/** Runs a command without blocking the event loop (load keeps flowing meanwhile). */
function runAsync(
  cmd: string,
  args: string[],
  options: { uid?: number; gid?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { encoding: "utf8", env: ENV, cwd: "/", ...options },
      (err, stdout, stderr) => {
        if (err)
          reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}: ${stderr}${stdout}`));
        else resolve(stdout);
      },
    );
  });
}

/**
 * Installs Debian's postgresql, without the "main" cluster the package would create and start
 * on 5432 (our servers are our own). Under a lock: test files start in parallel, and two
 * apt-get runs at once would fight over dpkg's lock.
 */
function install(): string {
  console.error("postgresql is missing: installing Debian's postgresql for the store tests");
  const conf = "/etc/postgresql-common/createcluster.conf";
  const script = [
    "ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && exit 0",
    "mkdir -p /etc/postgresql-common",
    `[ -e ${conf} ] || echo 'create_main_cluster = false' > ${conf}`,
    // Keep our createcluster.conf over the one the package ships.
    "apt-get update -qq && apt-get install -y -qq -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef postgresql",
  ].join("; ");
  const [cmd = "", ...args] = [
    ...(asRoot ? [] : ["sudo", "-n"]),
    "flock",
    "/tmp/scs-postgresql-install.lock",
    "sh",
    "-c",
    script,
  ];
  run(cmd, args);
  const dir = binDir();
  if (dir === undefined) {
    throw new Error("postgresql installed, but no pg_ctl under /usr/lib/postgresql");
  }
  return dir;
}

/** The unprivileged user the server runs as when we are root: postgres, else nobody, else a new one. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (!asRoot) return undefined;
  for (const name of ["postgres", "nobody"]) {
    const id = spawnSync("id", ["-u", name], { encoding: "utf8" });
    if (id.status === 0) {
      const gid = Number(spawnSync("id", ["-g", name], { encoding: "utf8" }).stdout.trim());
      return { uid: Number(id.stdout.trim()), gid };
    }
  }
  run("useradd", ["--system", "--no-create-home", "scs-pg"]);
  return {
    uid: Number(run("id", ["-u", "scs-pg"]).trim()),
    gid: Number(run("id", ["-g", "scs-pg"]).trim()),
  };
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // A test that failed or a process that was interrupted leaves neither a server nor its files.
  const discardAll = () => {
    for (const server of live) server.killSync();
    for (const server of created) rmSync(server.dir, { recursive: true, force: true });
  };
  process.on("exit", discardAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      discardAll();
      process.kill(process.pid, signal);
    });
  }
}

/** Connection settings for `pg`. */
export interface PgConnectionConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** One PostgreSQL server: its data dir and port survive stops and restarts. */
export class PgServer {
  readonly dir: string;
  readonly port: number;
  readonly #bin: string;
  readonly #user: { uid: number; gid: number } | undefined;

  constructor(
    bin: string,
    dir: string,
    port: number,
    user: { uid: number; gid: number } | undefined,
  ) {
    this.#bin = bin;
    this.dir = dir;
    this.port = port;
    this.#user = user;
  }

  /** Settings for `new pg.Pool(...)` / `new pg.Client(...)`. */
  get config(): PgConnectionConfig {
    return {
      host: "127.0.0.1",
      port: this.port,
      user: "postgres",
      password: PASSWORD,
      database: "postgres",
    };
  }

  /** The password, so tests can check it never shows in a message. */
  get password(): string {
    return PASSWORD;
  }

  /** The postmaster's PID while it runs (from postmaster.pid), else undefined. */
  get pid(): number | undefined {
    try {
      const pid = Number(
        readFileSync(join(this.dir, "data", "postmaster.pid"), "utf8").split("\n")[0],
      );
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** The server log's last lines, for failure messages. */
  log(lines = 30): string {
    try {
      return readFileSync(join(this.dir, "log"), "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  #pgCtl(args: string[]): Promise<string> {
    return runAsync(
      join(this.#bin, "pg_ctl"),
      ["-D", join(this.dir, "data"), ...args],
      this.#user ?? {},
    );
  }

  /** Starts the server and waits until it accepts connections (`pg_ctl -w`). */
  async start(): Promise<void> {
    const opts = [
      "-c listen_addresses=127.0.0.1",
      `-p ${this.port}`,
      `-k ${this.dir}`,
      // Durability against a crashed server process stays: the WAL is written before each
      // acknowledged commit; only the fsync to the disk (a machine crash) is skipped.
      "-c fsync=off",
      "-c full_page_writes=off",
      "-c max_connections=60",
      "-c shared_buffers=32MB",
    ].join(" ");
    live.add(this);
    installExitHooks();
    await this.#pgCtl(["-l", join(this.dir, "log"), "-w", "-t", "30", "-o", opts, "start"]);
  }

  /**
   * Stops the server: `fast` (clean, disconnects clients) or `immediate` (a crash: no
   * checkpoint, WAL replayed at the next start). Falls back to SIGKILL by PID.
   */
  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    try {
      if (this.pid !== undefined) await this.#pgCtl(["-m", mode, "-w", "-t", "20", "stop"]);
    } catch {
      this.killSync();
    } finally {
      live.delete(this);
    }
  }

  /** Stops (`immediate` by default: a crash) and starts again on the same port and data. */
  async restart(mode: "fast" | "immediate" = "immediate"): Promise<void> {
    await this.stop(mode);
    await this.start();
  }

  /** SIGKILLs the postmaster (its backends exit when they see it gone). Safe in exit hooks. */
  killSync(): void {
    const pid = this.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
    rmSync(join(this.dir, "data", "postmaster.pid"), { force: true });
  }

  /** Stops the server and removes its files. Idempotent. */
  async destroy(): Promise<void> {
    try {
      await this.stop("immediate");
    } finally {
      this.killSync();
      rmSync(this.dir, { recursive: true, force: true });
      created.delete(this);
    }
  }
}

/**
 * Starts a fresh PostgreSQL server (initdb in a new temp dir) on a free loopback port.
 * @example
 * const pg = await startPostgres();
 * try { const pool = new Pool(pg.config); ... } finally { await pg.destroy(); }
 */
export async function startPostgres(): Promise<PgServer> {
  const bin = binDir() ?? install();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), "scs-pg-"));
  const own = (path: string) => {
    if (user) chownSync(path, user.uid, user.gid);
  };
  own(dir);
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  own(pwfile);
  try {
    run(
      join(bin, "initdb"),
      [
        "-D",
        join(dir, "data"),
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--locale=C",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        `--pwfile=${pwfile}`,
        "--no-sync",
      ],
      user ?? {},
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const server = new PgServer(bin, dir, await freePort(), user);
    created.add(server);
    try {
      await server.start();
      return server;
    } catch (err) {
      // The port was taken between choosing and binding it: try another.
      lastError = new Error(`${String(err)}\n${server.log()}`);
      server.killSync();
      created.delete(server);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}
