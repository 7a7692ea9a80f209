/**
 * The demo on PostgresStore under load (20 clients, the shared load generator) through a
 * PostgreSQL crash and restart, and through every backend being killed: each answer a 2xx/303
 * or a 503, none past the client timeout, service back by itself, no acknowledged write lost.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { PostgresStore } from "../../src/stores/postgresstore.ts";
import { assertFaultRun } from "../faults/fault-checks.ts";
import { listen } from "../helpers/http.ts";
import { createLoadApp, loadThroughFault } from "../helpers/load.ts";
import { type PgServer, startPostgres } from "../helpers/postgres.ts";

/** The store's deadline per call; a request makes at most 3 store calls. */
const DEADLINE = 2_000;
const CLIENT_TIMEOUT = 3 * DEADLINE + 2_000;

describe("the demo on PostgreSQL under load through server faults", () => {
  let server: PgServer;
  let pool: pg.Pool;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  const logged = { errors: 0 };
  const poolErrors = { count: 0 };
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    server = await startPostgres();
    pool = new pg.Pool({ ...server.config, max: 20 });
    pool.on("error", () => poolErrors.count++);
  });
  after(async () => {
    for (const close of closers) await close();
    await pool?.end();
    await server?.destroy();
    process.off("unhandledRejection", onUnhandled);
  });

  async function startApp(table: string) {
    const store = new PostgresStore(pool, { table, deadline: DEADLINE, cleanupInterval: 0 });
    const app = createLoadApp({
      store,
      logger: { warn: () => {}, error: () => void logged.errors++ },
    });
    const http = await listen(app.server);
    closers.push(async () => {
      await http.close();
      await app.sessions.close();
    });
    return { app, url: http.url };
  }

  it("a crash (pg_ctl stop -m immediate) and restart: 2xx or 503, no hang, no acknowledged write lost", async () => {
    const { app, url } = await startApp("crash");
    const before = new Map<string, number>();
    for (let i = 0; i < 50; i++) {
      const s = await app.sessions.load(undefined);
      s.put("visits", 1000 + i);
      before.set((await app.sessions.commit(s)).token, 1000 + i);
    }
    const run = await loadThroughFault({
      url,
      requestTimeoutMs: CLIENT_TIMEOUT,
      fault: () => server.stop("immediate"),
      faultMs: 2_000,
      repair: () => server.start(),
    });
    let kept = 0;
    for (const [token, visits] of before) {
      if ((await app.sessions.load(token)).get("visits") === visits) kept++;
    }
    console.log(
      `  ${kept} of ${before.size} sessions committed before the crash found after it; pool errors ${poolErrors.count}`,
    );
    assertFaultRun("postgres crash and restart", run, {
      unhandled,
      logged,
      clientTimeout: CLIENT_TIMEOUT,
    });
    assert.ok((run.duringFault["503"] ?? 0) > 0, "the outage was answered with 503");
    assert.equal(kept, before.size, "every session committed before the crash is still there");
  });

  it("every backend killed under load (pg_terminate_backend): requests retried, none failed", async () => {
    const { url } = await startApp("killed");
    const admin = new pg.Client(server.config);
    await admin.connect();
    try {
      const run = await loadThroughFault({
        url,
        requestTimeoutMs: CLIENT_TIMEOUT,
        fault: async () => {
          for (let i = 0; i < 5; i++) {
            await admin.query(
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
            );
            await new Promise((r) => setTimeout(r, 100));
          }
        },
        faultMs: 200,
        repair: async () => {},
      });
      assertFaultRun("every backend killed, 5 times", run, {
        unhandled,
        logged,
        clientTimeout: CLIENT_TIMEOUT,
      });
      assert.equal(run.report.serverErrors, 0, "a killed connection is retried, not answered 503");
    } finally {
      await admin.end();
    }
  });
});
