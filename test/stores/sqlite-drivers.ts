/**
 * The SQLite drivers the SqliteStore tests run on: each one this Node can load. node:sqlite is
 * required from Node 22.13 on; better-sqlite3 is required where it was built (the machine's
 * Node, which `npm ci` compiles it for) and skipped, with the reason, on other Node lines.
 * @module
 */
import {
  DRIVERS,
  type DriverName,
  loadDriver,
  type SqliteHandle,
} from "../../examples/demo/sqlite.ts";

/** A driver that loaded. */
export interface TestDriver {
  name: DriverName;
  open: (path: string) => SqliteHandle;
}

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
const hasNodeSqlite = major > 22 || (major === 22 && minor >= 13);

/** @returns whether this Node must be able to load the driver. */
function required(name: DriverName, reason: string): boolean {
  if (name === "node:sqlite") return hasNodeSqlite;
  // Built for another Node's ABI: that is the test-node-lines case, not a failure.
  return !/NODE_MODULE_VERSION|compiled against a different Node/.test(reason);
}

/** Every driver that loads here, and why the others did not. */
export async function testDrivers(): Promise<{
  drivers: TestDriver[];
  skipped: { name: DriverName; reason: string }[];
}> {
  const drivers: TestDriver[] = [];
  const skipped: { name: DriverName; reason: string }[] = [];
  for (const name of DRIVERS) {
    try {
      drivers.push({ name, open: await loadDriver(name) });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const reason = message.replace(/\s+/g, " ");
      if (required(name, message)) {
        throw new Error(`SQLite driver ${name} must load on Node ${process.version}: ${reason}`);
      }
      skipped.push({ name, reason });
    }
  }
  return { drivers, skipped };
}
