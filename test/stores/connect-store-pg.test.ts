import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import connectPgSimple from "connect-pg-simple";
import session from "express-session";
import pg from "pg";
import { StoreUnavailableError } from "../../src/errors.ts";
import { SessionManager } from "../../src/manager.ts";
import { isIterableStore, type Store } from "../../src/store.ts";
import { type ExpressStoreBridge, fromExpressStore } from "../../src/stores/connect-store.ts";
import { storeConformance } from "../../src/testing/conformance.ts";
import { type PgServer, startPostgres } from "../helpers/postgres.ts";

const HOUR = 3_600_000;
const bytes = (s: string) => new TextEncoder().encode(s);
const PgStore = connectPgSimple(session);
type PgStoreInstance = InstanceType<typeof PgStore>;

let server: PgServer;
let pool: pg.Pool;
const poolErrors: Error[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);
/** connect-pg-simple stores made here: each starts a prune timer, ended by its close(). */
const made: PgStoreInstance[] = [];

before(async () => {
  process.on("unhandledRejection", onUnhandled);
  server = await startPostgres();
  pool = new pg.Pool({ ...server.config, max: 10 });
  pool.on("error", (err) => poolErrors.push(err));
});
after(async () => {
  for (const store of made) await store.close();
  await pool?.end();
  await server?.destroy();
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, [], "no unhandled rejection");
});

/**
 * A connect-pg-simple store on its default table "session", created on first use as its
 * README shows. (One table per server: its table.sql names the index and key without the
 * table's name, so a second table in the same schema cannot be created.) The conformance
 * suite's tokens are unique per test, so the stores share the table.
 */
function pgStore(options: { pool?: pg.Pool } = {}): PgStoreInstance {
  const store = new PgStore({
    pool,
    createTableIfMissing: true,
    pruneSessionInterval: false,
    errorLog: () => {},
    ...options,
  });
  made.push(store);
  return store;
}

storeConformance("fromExpressStore(connect-pg-simple on PostgreSQL)", {
  makeStore: () => fromExpressStore(pgStore()),
  startsEmpty: true,
});

describe("fromExpressStore(connect-pg-simple) on a real PostgreSQL", () => {
  it("the row's expire column is the commit's expiry (connect-pg-simple reads cookie.expires)", async () => {
    const bridge = fromExpressStore(pgStore());
    const expiry = new Date(Date.now() + 2 * HOUR + 1234);
    const key = `expire-${randomBytes(6).toString("hex")}`;
    await bridge.commit(key, bytes("x"), expiry);
    const { rows } = await pool.query(
      "SELECT extract(epoch FROM expire)::float8 AS e, sess FROM session WHERE sid = $1",
      [key],
    );
    // Whole seconds, rounded up, not connect-pg-simple's one-day default.
    assert.equal(rows[0].e, Math.ceil(expiry.getTime() / 1000));
    assert.equal(rows[0].sess.scs, Buffer.from(bytes("x")).toString("base64"));
    assert.equal(rows[0].sess.cookie.expires, expiry.toISOString());
  });

  it("has no all(): connect-pg-simple has none, and the type says so too", async () => {
    const bridge = fromExpressStore(pgStore());
    assert.ok(!isIterableStore(bridge));
    const typed: ExpressStoreBridge = bridge;
    // @ts-expect-error connect-pg-simple declares no all, so neither does the bridge
    typed.all;
    const sessions = new SessionManager({ store: bridge });
    await assert.rejects(sessions.iterate(() => {}));
  });

  it("a session survives a new manager and a new store object over the same table (app restart)", async () => {
    const first = new SessionManager<{ user: string }>({ store: fromExpressStore(pgStore()) });
    const s = await first.load(undefined);
    s.put("user", "ann");
    const { token } = await first.commit(s);
    const second = new SessionManager<{ user: string }>({
      store: fromExpressStore(pgStore()),
    });
    assert.equal((await second.load(token)).get("user"), "ann");
  });

  // Last: it stops and restarts the file's server.
  it("a stopped PostgreSQL: calls fail with StoreUnavailableError, and work again once it is back", async () => {
    const store: Store = fromExpressStore(pgStore(), { deadline: 3000 });
    const key = `stop-${randomBytes(6).toString("hex")}`;
    await store.commit(key, bytes("x"), new Date(Date.now() + HOUR));
    await server.stop("immediate");
    const results = await Promise.allSettled([
      store.find(key),
      store.commit(key, bytes("y"), new Date(Date.now() + HOUR)),
      store.delete(key),
    ]);
    for (const r of results) {
      assert.equal(r.status, "rejected");
      const err = (r as PromiseRejectedResult).reason as Error;
      assert.ok(err instanceof StoreUnavailableError, String(err));
      assert.ok(!err.message.includes(server.password));
    }
    await server.start();
    assert.deepEqual(await store.find(key), bytes("x"), "committed before the stop: kept");
  });
});
