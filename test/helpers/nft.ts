/**
 * Network partitions on the loopback interface with nftables, for the partition tests: one
 * table of this process's own (`inet scs_test_<pid>_<n>`) whose rules drop the packets between
 * chosen address pairs, deleted when the test ends, also when it fails or the process exits.
 *
 * Every loopback connection a process opens without binding leaves from 127.0.0.1, so nodes
 * that share a machine cannot be told apart by their source address. The harness runs each
 * rqlited as its own user id (test/helpers/rqlite.ts `uids`), and the table rewrites the source
 * of that user's loopback connections to the node's own address (SNAT): from then on every
 * packet says which node sent it, as on separate hosts, and a partition is a set of address
 * pairs. The app binds its own address (RqliteConnection `localAddress`).
 *
 * Needs root (or `sudo -n`) and Debian's `nftables`, installed when missing. Only loopback
 * traffic is touched: every rule matches `iifname "lo"` or `oifname "lo"`.
 * @module
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const asRoot = process.getuid?.() === 0;
const PREFIX = "scs_test_";
const live = new Set<string>();
let hooksInstalled = false;
let counter = 0;

function nftPath(): string | undefined {
  for (const p of ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]) if (existsSync(p)) return p;
  return undefined;
}

function sudo(cmd: string, args: string[]): [string, string[]] {
  return asRoot ? [cmd, args] : ["sudo", ["-n", cmd, ...args]];
}

/**
 * Path of `nft`; installs Debian's `nftables` first when missing (apt-get as root or through
 * `sudo -n`, under the apt lock every test file shares: they start in parallel).
 * @returns the path.
 */
export function ensureNft(): string {
  const found = nftPath();
  if (found) return found;
  console.error("nft is missing: installing Debian's nftables for the partition tests");
  const script =
    "command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables)";
  const [cmd, args] = sudo("flock", ["/tmp/scs-apt.lock", "sh", "-c", script]);
  const res = spawnSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const path = nftPath();
  if (res.status !== 0 || path === undefined) {
    throw new Error(`installing nftables failed: ${res.stderr.slice(-500)}`);
  }
  return path;
}

function deleteTableSync(name: string): void {
  const path = nftPath();
  if (!path) return;
  const [cmd, args] = sudo(path, ["delete", "table", "inet", name]);
  spawnSync(cmd, args, { stdio: "ignore" });
  live.delete(name);
}

function deleteAllSync(): void {
  for (const name of [...live]) deleteTableSync(name);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", deleteAllSync);
  // `once`, without re-raising: the rqlite harness's own hook re-raises the signal after it.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.once(signal, deleteAllSync);
}

/** Deletes tables a killed earlier run of this harness left behind (their pid is gone). */
function deleteOrphans(path: string): void {
  const [cmd, args] = sudo(path, ["list", "tables", "inet"]);
  const out = spawnSync(cmd, args, { encoding: "utf8" }).stdout ?? "";
  for (const m of out.matchAll(/table inet (scs_test_(\d+)_\d+)/g)) {
    const [, name = "", pid = "0"] = m;
    if (Number(pid) === process.pid) continue;
    try {
      process.kill(Number(pid), 0);
    } catch {
      deleteTableSync(name);
    }
  }
}

/** A loopback address and, for a node, the user id its connections leave as. */
export interface Host {
  address: string;
  /** Connections of this user from 127.0.0.1 get `address` as their source. */
  uid?: number;
}

/** A partition controller: one nftables table, one set of blocked address pairs. */
export interface Partitions {
  /** The table's name (`inet <name>`). */
  readonly table: string;
  /**
   * Replaces the blocked pairs: no packet goes between `a` and `b`, either way. Atomic (one
   * `nft -f` transaction). An empty list heals everything.
   */
  set(pairs: readonly (readonly [string, string])[]): Promise<void>;
  /** Cuts `group` off from `others` (every pair across), replacing what was blocked. */
  split(group: readonly string[], others: readonly string[]): Promise<void>;
  /** Lets everything through again. */
  heal(): Promise<void>;
  /** The pairs blocked now, each once as given. */
  readonly blocked: readonly (readonly [string, string])[];
  /** Deletes the table (idempotent). */
  close(): Promise<void>;
}

function run(path: string, script: string): Promise<void> {
  const [cmd, args] = sudo(path, ["-f", "-"]);
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: "utf8" }, (err, _out, stderr) => {
      if (err) reject(new Error(`nft failed: ${stderr || err.message}`));
      else resolve();
    });
    child.stdin?.end(script);
  });
}

/**
 * Creates this test's table: the SNAT rules that give each host with a `uid` its own source
 * address, and the drop rules for blocked pairs (none yet). Call it before the nodes start, so
 * that their first connections already carry their own addresses.
 * @example
 * const net = await createPartitions(hosts);
 * try { await net.split(["127.0.0.11"], ["127.0.0.12", "127.0.0.13"]); ... } finally { await net.close(); }
 */
export async function createPartitions(hosts: readonly Host[]): Promise<Partitions> {
  const path = ensureNft();
  deleteOrphans(path);
  installExitHooks();
  const table = `${PREFIX}${process.pid}_${counter++}`;
  const snat = hosts
    .filter((h) => h.uid !== undefined)
    .map(
      (h) =>
        `  add rule inet ${table} srcnat oifname "lo" meta skuid ${h.uid} ip saddr 127.0.0.1 ip daddr != 127.0.0.1 snat ip to ${h.address}`,
    );
  const script = [
    `add table inet ${table}`,
    `add set inet ${table} blocked { type ipv4_addr . ipv4_addr; }`,
    `add chain inet ${table} out { type filter hook output priority filter; policy accept; }`,
    `add chain inet ${table} in { type filter hook input priority filter; policy accept; }`,
    `add chain inet ${table} srcnat { type nat hook postrouting priority srcnat; policy accept; }`,
    // Output sees a reply's true addresses; input sees a new connection's after the SNAT.
    `add rule inet ${table} out oifname "lo" ip saddr . ip daddr @blocked drop`,
    `add rule inet ${table} in iifname "lo" ip saddr . ip daddr @blocked drop`,
    ...snat,
  ].join("\n");
  live.add(table);
  try {
    await run(path, `${script}\n`);
  } catch (err) {
    deleteTableSync(table);
    throw err;
  }
  let blocked: (readonly [string, string])[] = [];
  let closed = false;
  const partitions: Partitions = {
    table,
    get blocked() {
      return blocked;
    },
    async set(pairs) {
      if (closed) throw new Error("partitions closed");
      const elements = pairs.flatMap(([a, b]) => [`${a} . ${b}`, `${b} . ${a}`]);
      const lines = [`flush set inet ${table} blocked`];
      if (elements.length > 0)
        lines.push(`add element inet ${table} blocked { ${elements.join(", ")} }`);
      await run(path, `${lines.join("\n")}\n`);
      blocked = pairs.map(([a, b]) => [a, b] as const);
    },
    split(group, others) {
      return partitions.set(group.flatMap((a) => others.map((b) => [a, b] as const)));
    },
    heal() {
      return partitions.set([]);
    },
    async close() {
      if (closed) return;
      closed = true;
      deleteTableSync(table);
    },
  };
  return partitions;
}

/** True when nftables can be used here (root or passwordless sudo, on Linux). */
export function canPartition(): boolean {
  if (process.platform !== "linux") return false;
  if (asRoot) return true;
  return spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0;
}

/** Lists this process's live tables (for the tests' own check that nothing is left behind). */
export function liveTables(): string[] {
  const path = nftPath();
  if (!path) return [];
  const [cmd, args] = sudo(path, ["list", "tables", "inet"]);
  const out = execFileSync(cmd, args, { encoding: "utf8" });
  return [...out.matchAll(new RegExp(`table inet (${PREFIX}${process.pid}_\\d+)`, "g"))].map(
    (m) => m[1] ?? "",
  );
}
