import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { SessionManager } from "../../src/manager.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { PostgresStore } from "../../src/stores/postgresstore.ts";
import { RqliteStore } from "../../src/stores/rqlitestore.ts";
import { SqliteStore } from "../../src/stores/sqlitestore.ts";
import { type PgServer, startPostgres } from "../helpers/postgres.ts";
import { type RqliteCluster, startNode } from "../helpers/rqlite.ts";
import { testDrivers } from "./sqlite-drivers.ts";

// Two app servers share one store; server B's clock runs SKEW ahead of server A's. Every store
// here compares expiries with the clock of the server that asks (the store's `now`), and every
// expiry is written from the clock of the server that commits: so each end of a session can
// move by at most the skew, and never more.
const SKEW = 5 * 60_000;
const MINUTE = 60_000;
const SECOND = 1000;
const T0 = Date.UTC(2026, 0, 1);

interface Clocks {
  /** The true time; A reads it, B reads it + SKEW. */
  real: number;
  a: () => number;
  b: () => number;
}

function clocks(): Clocks {
  const c: Clocks = { real: T0, a: () => c.real, b: () => c.real + SKEW };
  return c;
}

/** One store as each server sees it, and each server's expiry cleanup. */
interface Shared {
  a: Store;
  b: Store;
  cleanupA: () => Promise<unknown>;
  cleanupB: () => Promise<unknown>;
  /** True when both servers' calls go through one store object with one clock (A's). */
  oneClock?: boolean;
  close: () => unknown;
}

type MakeShared = (c: Clocks) => Shared;

const cases: { name: string; make: () => MakeShared | Promise<MakeShared> }[] = [
  {
    // One process's store, shared by two managers: the store's clock (A's) decides expiry,
    // each manager's clock decides the session's deadline when it loads.
    name: "MemStore shared by two managers",
    make: () => (c) => {
      const store = new MemStore({ cleanupInterval: 0, now: c.a });
      return {
        a: store,
        b: store,
        cleanupA: () => store.sweep(),
        cleanupB: () => store.sweep(),
        oneClock: true,
        close: () => store.close(),
      };
    },
  },
];

const dir = mkdtempSync(join(tmpdir(), "scs-skew-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const { drivers } = await testDrivers();
for (const driver of drivers) {
  cases.push({
    name: `SqliteStore on ${driver.name}, one database file, a connection per server`,
    make: () => (c) => {
      const file = join(dir, `${randomBytes(6).toString("hex")}.db`);
      const dbA = driver.open(file);
      const dbB = driver.open(file);
      const a = new SqliteStore(dbA, { cleanupInterval: 0, now: c.a });
      const b = new SqliteStore(dbB, { cleanupInterval: 0, now: c.b });
      return {
        a,
        b,
        cleanupA: () => a.deleteExpired(),
        cleanupB: () => b.deleteExpired(),
        close: () => {
          a.close();
          b.close();
          dbA.close();
          dbB.close();
        },
      };
    },
  });
}

let node: RqliteCluster | undefined;
let postgres: PgServer | undefined;
before(async () => {
  [node, postgres] = await Promise.all([startNode(), startPostgres()]);
});
after(async () => {
  await Promise.all([node?.close(), postgres?.destroy()]);
});
cases.push({
  name: "PostgresStore, one PostgreSQL server, a pool per server",
  make: () => (c) => {
    const table = `skew_${randomBytes(6).toString("hex")}`;
    const poolA = new pg.Pool({ ...postgres!.config, max: 2 });
    const poolB = new pg.Pool({ ...postgres!.config, max: 2 });
    const a = new PostgresStore(poolA, { cleanupInterval: 0, table, now: c.a });
    const b = new PostgresStore(poolB, { cleanupInterval: 0, table, now: c.b });
    return {
      a,
      b,
      cleanupA: () => a.deleteExpired(),
      cleanupB: () => b.deleteExpired(),
      close: async () => {
        await Promise.all([a.close(), b.close()]);
        await Promise.all([poolA.end(), poolB.end()]);
      },
    };
  },
});
cases.push({
  name: "RqliteStore, one rqlited node, a store per server",
  make: () => (c) => {
    const table = `skew_${randomBytes(6).toString("hex")}`;
    const url = node!.urls[0]!;
    const a = new RqliteStore(url, { cleanupInterval: 0, table, now: c.a });
    const b = new RqliteStore(url, { cleanupInterval: 0, table, now: c.b });
    return {
      a,
      b,
      cleanupA: () => a.deleteExpired(),
      cleanupB: () => b.deleteExpired(),
      close: () => Promise.all([a.close(), b.close()]),
    };
  },
});

function servers(shared: Shared, c: Clocks, options: { lifetime: number; idleTimeout?: number }) {
  const a = new SessionManager<{ user: string }>({ store: shared.a, now: c.a, ...options });
  const b = new SessionManager<{ user: string }>({ store: shared.b, now: c.b, ...options });
  /** Whether `server` still has the signed-in session (loading only; nothing is written). */
  const signedIn = async (server: typeof a, token: string) =>
    (await server.load(token)).getString("user") === "ann";
  /** A request that uses the session on `server` (loads and commits it, as with idleTimeout). */
  const use = async (server: typeof a, token: string) => {
    const session = await server.load(token);
    assert.equal(session.getString("user"), "ann", "signed in when used");
    return (await server.commit(session)).token;
  };
  const signIn = async (server: typeof a) => {
    const session = await server.load(undefined);
    session.put("user", "ann");
    return (await server.commit(session)).token;
  };
  return { a, b, signedIn, use, signIn };
}

for (const { name, make } of cases) {
  describe(`clock skew of 5 minutes between two app servers: ${name}`, () => {
    let makeShared: MakeShared;
    before(async () => {
      makeShared = await make();
    });

    it("lifetime: a session lives at least lifetime - skew and at most lifetime + skew", async () => {
      const lifetime = 60 * MINUTE;
      for (const creator of ["a", "b"] as const) {
        const c = clocks();
        const shared = makeShared(c);
        try {
          const s = servers(shared, c, { lifetime });
          const token = await s.signIn(s[creator]);
          c.real = T0 + lifetime - SKEW - SECOND;
          assert.ok(await s.signedIn(s.a, token), `made on ${creator}: A, before lifetime - skew`);
          assert.ok(await s.signedIn(s.b, token), `made on ${creator}: B, before lifetime - skew`);
          c.real = T0 + lifetime + SKEW;
          assert.ok(!(await s.signedIn(s.a, token)), `made on ${creator}: A, at lifetime + skew`);
          assert.ok(!(await s.signedIn(s.b, token)), `made on ${creator}: B, at lifetime + skew`);
        } finally {
          await shared.close();
        }
      }
    });

    it("idle timeout: used within idle - skew on alternating servers, never signed out; idle for idle + skew, gone", async () => {
      const idleTimeout = 20 * MINUTE;
      const c = clocks();
      const shared = makeShared(c);
      try {
        const s = servers(shared, c, { lifetime: 24 * 60 * MINUTE, idleTimeout });
        let token = await s.signIn(s.a);
        for (let i = 0; i < 8; i++) {
          c.real += idleTimeout - SKEW - SECOND;
          token = await s.use(i % 2 === 0 ? s.b : s.a, token);
        }
        // The last use was on A. Idle past idle + skew: gone everywhere.
        c.real += idleTimeout + SKEW;
        assert.ok(!(await s.signedIn(s.a, token)), "A, after idle + skew");
        assert.ok(!(await s.signedIn(s.b, token)), "B, after idle + skew");
      } finally {
        await shared.close();
      }
    });

    it("the other server's cleanup deletes no session more than the skew before its expiry", async () => {
      const lifetime = 60 * MINUTE;
      const c = clocks();
      const shared = makeShared(c);
      /** Whether the row is still in the store: asked with the clock turned back to T0. */
      const stored = async (token: string) => {
        const real = c.real;
        c.real = T0;
        const data = await shared.a.find(token);
        c.real = real;
        return data !== undefined;
      };
      try {
        const s = servers(shared, c, { lifetime });
        const onA = await s.signIn(s.a); // expires at T0 + lifetime, true time
        const onB = await s.signIn(s.b); // expires at T0 + lifetime + SKEW, true time
        c.real = T0 + lifetime - SKEW - SECOND;
        await shared.cleanupB(); // the fast clock's cleanup, just before expiry - skew
        await shared.cleanupA();
        assert.ok(await s.signedIn(s.a, onA), "made on A: kept by B's cleanup until expiry - skew");
        assert.ok(await s.signedIn(s.a, onB), "made on B: kept");
        c.real = T0 + lifetime - SKEW + SECOND;
        await shared.cleanupB();
        if (shared.oneClock) {
          assert.ok(await stored(onA), "one store, one clock: B's calls use A's clock");
        } else {
          // The rule's other side: a fast server's cleanup may delete up to the skew early.
          assert.ok(!(await stored(onA)), "made on A: deleted by B's cleanup, within the skew");
        }
        assert.ok(await stored(onB), "made on B: kept");
        c.real = T0 + lifetime + SKEW - SECOND;
        await shared.cleanupA(); // the slow clock's cleanup never deletes early
        assert.ok(await s.signedIn(s.a, onB), "made on B: kept by A's cleanup until its expiry");
        // (RqliteStore's cleanup deletes rows whose expiry is before now, not at it: a second on.)
        c.real = T0 + lifetime + SKEW + SECOND;
        await shared.cleanupA();
        assert.ok(!(await stored(onA)), "made on A: cleaned up by lifetime + skew");
        assert.ok(!(await stored(onB)), "made on B: cleaned up by lifetime + skew");
      } finally {
        await shared.close();
      }
    });
  });
}
