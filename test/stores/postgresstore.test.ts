import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { SessionError, StoreUnavailableError } from "../../src/errors.ts";
import { type PgPool, PostgresStore } from "../../src/stores/postgresstore.ts";
import { storeConformance } from "../../src/testing/conformance.ts";
import { type PgServer, startPostgres } from "../helpers/postgres.ts";

const HOUR = 3_600_000;
let server: PgServer;
let pool: pg.Pool;
const poolErrors: Error[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

before(async () => {
  process.on("unhandledRejection", onUnhandled);
  server = await startPostgres();
  pool = new pg.Pool({ ...server.config, max: 10 });
  pool.on("error", (err) => poolErrors.push(err));
});
after(async () => {
  await pool?.end();
  await server?.destroy();
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, [], "no unhandled rejection");
});

const uniqueTable = () => `t_${randomBytes(6).toString("hex")}`;
const bytes = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array | undefined) =>
  b === undefined ? "none" : Buffer.from(b).toString("hex");
const TOKEN = "tok_must_not_leak_2f8Hq0aZ1xYbP3c_-kLm9oRsTuV";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raised error, asserting what every store error must keep out of its message. */
async function failure(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => assert.fail("expected a rejection"),
    (e: unknown) => e as Error,
  );
  assert.ok(err instanceof Error);
  assert.ok(!err.message.includes(TOKEN), `no token in: ${err.message}`);
  assert.ok(!err.message.includes(server.password), `no password in: ${err.message}`);
  return err;
}

storeConformance("PostgresStore", {
  makeStore: () => new PostgresStore(pool, { table: uniqueTable(), cleanupInterval: 0 }),
  closeStore: (s) => (s as PostgresStore).close(),
  startsEmpty: true,
});

describe("PostgresStore on a real PostgreSQL", () => {
  it("creates SCS's table (TEXT, BYTEA, TIMESTAMPTZ) and the expiry index on first use", async () => {
    const t = uniqueTable();
    const store = new PostgresStore(pool, { table: t, cleanupInterval: 0 });
    const exists = async () => (await pool.query("SELECT to_regclass($1) AS r", [t])).rows[0].r;
    assert.equal(await exists(), null, "nothing created by the constructor");
    assert.equal(await store.find("x"), undefined);
    const cols = await pool.query(
      "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
      [t],
    );
    assert.deepEqual(
      cols.rows.map((r) => [r.column_name, r.data_type, r.is_nullable]),
      [
        ["token", "text", "NO"],
        ["data", "bytea", "NO"],
        ["expiry", "timestamp with time zone", "NO"],
      ],
    );
    const idx = await pool.query(
      "SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY 1",
      [t],
    );
    assert.deepEqual(
      idx.rows.map((r) => r.indexname),
      [`${t}_expiry_idx`, `${t}_pkey`],
    );
    await store.close();
  });

  it("reads rows SCS's postgresstore wrote, and SCS's find reads the rows it writes", async () => {
    // SCS's Setup and its statements as they are in postgresstore.go.
    const t = uniqueTable();
    await pool.query(
      `CREATE TABLE ${t} (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL); CREATE INDEX ${t}_expiry_idx ON ${t} (expiry);`,
    );
    const scsCommit = `INSERT INTO ${t} (token, data, expiry) VALUES ($1, $2, $3) ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`;
    const scsFind = `SELECT data FROM ${t} WHERE token = $1 AND current_timestamp < expiry`;
    await pool.query(scsCommit, [
      "from-go",
      Buffer.from([0, 1, 0xfe, 0xff]),
      new Date(Date.now() + HOUR),
    ]);
    await pool.query(scsCommit, ["go-expired", Buffer.from([1]), new Date(Date.now() - 1000)]);
    const store = new PostgresStore(pool, { table: t, cleanupInterval: 0 });
    assert.equal(hex(await store.find("from-go")), "0001feff");
    assert.equal(await store.find("go-expired"), undefined);
    await store.commit("from-ts", bytes("hello"), new Date(Date.now() + HOUR));
    const row = await pool.query(scsFind, ["from-ts"]);
    assert.equal(hex(row.rows[0]?.data), hex(bytes("hello")));
    await store.close();
  });

  it("a schema-qualified table works, and so does a reserved word as name", async () => {
    await pool.query("CREATE SCHEMA IF NOT EXISTS app");
    for (const table of ["app.sessions", "order"]) {
      const store = new PostgresStore(pool, { table, cleanupInterval: 0 });
      await store.commit("t", bytes(table), new Date(Date.now() + HOUR));
      assert.equal(hex(await store.find("t")), hex(bytes(table)));
      await store.close();
    }
  });

  it("two app servers creating the same table at once both work", async () => {
    // Several tables, several servers each: the race (a duplicate of the table, its index or
    // its row type on the slower server) is not there every time.
    for (let round = 0; round < 10; round++) {
      const t = uniqueTable();
      const stores = Array.from(
        { length: 6 },
        () => new PostgresStore(pool, { table: t, cleanupInterval: 0 }),
      );
      await Promise.all(
        stores.map((s, i) => s.commit(`t${i}`, bytes(`v${i}`), new Date(Date.now() + HOUR))),
      );
      for (const [i, s] of stores.entries())
        assert.equal(hex(await s.find(`t${i}`)), hex(bytes(`v${i}`)));
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("every statement is parameterized: no token ever appears in SQL text", async () => {
    const texts: string[] = [];
    const spy: PgPool = {
      connect: (callback) =>
        pool.connect((err, client) => {
          if (err !== undefined || client === undefined) return callback(err, undefined);
          callback(undefined, {
            query: (config) => {
              texts.push(config.text);
              return client.query(config);
            },
            release: (e) => client.release(e),
            once: (event, listener) => client.once(event, listener),
            removeListener: (event, listener) => client.removeListener(event, listener),
          });
        }),
    };
    const store = new PostgresStore(spy, { table: uniqueTable(), cleanupInterval: 0 });
    const token = `${TOKEN}'); DROP TABLE x; --`;
    await store.commit(token, bytes("x"), new Date(Date.now() + HOUR));
    assert.equal(hex(await store.find(token)), hex(bytes("x")));
    assert.ok((await store.all()).has(token));
    await store.delete(token);
    await store.deleteExpired();
    assert.ok(texts.length >= 6);
    for (const text of texts) assert.ok(!text.includes(TOKEN), text);
    await store.close();
  });

  it("expiry is compared with the store's clock, not the database's", async () => {
    const clock = { now: Date.now() + 10 * 24 * HOUR }; // ten days ahead of the server
    const store = new PostgresStore(pool, {
      table: uniqueTable(),
      cleanupInterval: 0,
      now: () => clock.now,
    });
    await store.commit("t", bytes("x"), new Date(clock.now + 1000));
    assert.ok(await store.find("t"));
    clock.now += 1000;
    assert.equal(await store.find("t"), undefined, "expired by the store's clock");
    assert.equal((await store.all()).size, 0);
    assert.equal(await store.deleteExpired(), 1);
    await store.close();
  });

  it("deleteExpired deletes every expired row in batches and keeps the live ones", async () => {
    const t = uniqueTable();
    const store = new PostgresStore(pool, { table: t, cleanupInterval: 0 });
    await store.find("create the table");
    await pool.query(
      `INSERT INTO ${t} SELECT 'dead' || i, '\\x00', now() - interval '1 hour' FROM generate_series(1, 2500) i`,
    );
    await pool.query(
      `INSERT INTO ${t} SELECT 'live' || i, '\\x00', now() + interval '1 hour' FROM generate_series(1, 10) i`,
    );
    assert.equal(await store.deleteExpired(), 2500);
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n, 10);
    await store.close();
  });

  it("the background cleanup runs on its interval", async () => {
    const t = uniqueTable();
    const store = new PostgresStore(pool, { table: t, cleanupInterval: 20 });
    await store.commit("soon", bytes("x"), new Date(Date.now() + 10));
    const until = Date.now() + 5000;
    const count = async () => (await pool.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n;
    while ((await count()) > 0 && Date.now() < until) await sleep(20);
    assert.equal(await count(), 0);
    await store.close();
  });

  it("a connection killed mid-query (pg_terminate_backend) is retried on a fresh connection", async () => {
    const t = uniqueTable();
    const store = new PostgresStore(pool, { table: t, cleanupInterval: 0, deadline: 10_000 });
    await store.commit(TOKEN, bytes("before"), new Date(Date.now() + HOUR));
    const locker = await pool.connect();
    try {
      for (const op of ["commit", "find"] as const) {
        await locker.query(`BEGIN; LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE`);
        const call =
          op === "commit"
            ? store.commit(TOKEN, bytes("after"), new Date(Date.now() + HOUR))
            : store.find(TOKEN);
        // The store's statement now waits on the lock: find its backend and kill it.
        let victim: number | undefined;
        for (let i = 0; i < 200 && victim === undefined; i++) {
          const r = await pool.query(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
          );
          victim = r.rows[0]?.pid;
          if (victim === undefined) await sleep(10);
        }
        assert.ok(victim, `the ${op} waits on the lock`);
        await pool.query("SELECT pg_terminate_backend($1)", [victim]);
        await sleep(50);
        await locker.query("ROLLBACK");
        const result = await call;
        if (op === "find") assert.equal(hex(result as Uint8Array), hex(bytes("after")));
      }
    } finally {
      locker.release();
    }
    await store.close();
  });

  it("a statement stuck past the deadline is StoreUnavailableError, and its connection is closed", async () => {
    const t = uniqueTable();
    const store = new PostgresStore(pool, { table: t, cleanupInterval: 0, deadline: 400 });
    await store.find("create the table");
    const locker = await pool.connect();
    await locker.query(`BEGIN; LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE`);
    const started = performance.now();
    const err = await failure(store.find(TOKEN));
    const took = performance.now() - started;
    await locker.query("ROLLBACK");
    locker.release();
    assert.ok(err instanceof StoreUnavailableError, String(err));
    assert.ok(took >= 390 && took < 1000, `rejected after ${took.toFixed(0)} ms`);
    assert.match(err.message, /no answer/);
    // The backend that was waiting goes away instead of coming back to the pool.
    const until = Date.now() + 3000;
    let waiting = 1;
    while (waiting > 0 && Date.now() < until) {
      const r = await pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT data FROM "${t}"%'`,
      );
      waiting = r.rows[0].n;
      if (waiting > 0) await sleep(20);
    }
    assert.equal(waiting, 0);
    assert.equal(await store.find(TOKEN), undefined, "and the store works afterwards");
    await store.close();
  });

  it("a commit stuck behind a lock past the deadline: lands after its 503 by default; with the pool's statement_timeout PostgreSQL cancels it and it never lands", async () => {
    const t = uniqueTable();
    const guarded = new pg.Pool({ ...server.config, max: 2, statement_timeout: 300 });
    guarded.on("error", (err) => poolErrors.push(err));
    try {
      for (const [label, on, lands] of [
        ["default pool", pool, true],
        ["pool with statement_timeout 300", guarded, false],
      ] as const) {
        const store = new PostgresStore(on, { table: t, cleanupInterval: 0, deadline: 600 });
        await store.commit(TOKEN, bytes("before"), new Date(Date.now() + HOUR));
        const locker = await pool.connect();
        await locker.query(`BEGIN; LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE`);
        let err: Error;
        try {
          err = await failure(store.commit(TOKEN, bytes(label), new Date(Date.now() + HOUR)));
        } finally {
          await locker.query("ROLLBACK");
          locker.release();
        }
        assert.ok(err instanceof StoreUnavailableError, `${label}: ${String(err)}`);
        if (!lands) assert.match(err.message, /57014/, `${label}: cancelled by PostgreSQL`);
        // The statement that was waiting runs now, if it still exists: wait until none is left.
        const until = Date.now() + 5_000;
        for (;;) {
          const r = await pool.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'INSERT INTO "${t}"%' AND state = 'active'`,
          );
          if (r.rows[0].n === 0 || Date.now() > until) break;
          await sleep(20);
        }
        assert.equal(
          hex(await store.find(TOKEN)),
          hex(bytes(lands ? label : "before")),
          `${label}: the commit answered 503 ${lands ? "landed afterwards" : "never landed"}`,
        );
        await store.commit(TOKEN, bytes("before"), new Date(Date.now() + HOUR));
        await store.close();
      }
    } finally {
      await guarded.end();
    }
  });

  it("a full pool waits at most the deadline", async () => {
    const small = new pg.Pool({ ...server.config, max: 1 });
    small.on("error", () => {});
    const store = new PostgresStore(small, {
      cleanupInterval: 0,
      deadline: 300,
      table: uniqueTable(),
    });
    await store.find("create the table");
    const held = await small.connect();
    const started = performance.now();
    const err = await failure(store.find(TOKEN));
    assert.ok(err instanceof StoreUnavailableError);
    assert.ok(performance.now() - started < 800);
    held.release();
    assert.equal(await store.find(TOKEN), undefined, "works once a connection is free");
    await store.close();
    await small.end();
  });

  it("a stopped server: StoreUnavailableError within the deadline, then it works again by itself", async () => {
    const own = new pg.Pool({ ...server.config, max: 4 });
    own.on("error", () => {});
    const store = new PostgresStore(own, {
      cleanupInterval: 0,
      deadline: 800,
      table: uniqueTable(),
    });
    await store.commit(TOKEN, bytes("kept"), new Date(Date.now() + HOUR));
    await server.stop("fast");
    try {
      for (const call of [
        () => store.find(TOKEN),
        () => store.commit(TOKEN, bytes("x"), new Date()),
        () => store.delete(TOKEN),
      ]) {
        const started = performance.now();
        const err = await failure(call());
        const took = performance.now() - started;
        assert.ok(err instanceof StoreUnavailableError, String(err));
        assert.match(err.message, /ECONNREFUSED|Connection terminated|57P0/);
        assert.ok(took < 1500, `within the deadline (${took.toFixed(0)} ms)`);
      }
    } finally {
      await server.start();
    }
    assert.equal(hex(await store.find(TOKEN)), hex(bytes("kept")));
    await store.close();
    await own.end();
  });

  it("a wrong password is StoreUnavailableError naming SQLSTATE 28P01, no credential in it", async () => {
    const wrong = `${server.password}-wrong`;
    const bad = new pg.Pool({ ...server.config, password: wrong, max: 1 });
    bad.on("error", () => {});
    const store = new PostgresStore(bad, { cleanupInterval: 0, deadline: 2000 });
    const started = performance.now();
    const err = await failure(store.find(TOKEN));
    assert.ok(err instanceof StoreUnavailableError);
    assert.match(err.message, /28P01/);
    assert.ok(!err.message.includes(wrong));
    assert.ok(performance.now() - started < 1500, "not retried: it would not get better");
    await store.close();
    await bad.end();
  });

  it("an SQL error is a SessionError with the pg error as cause, not StoreUnavailableError", async () => {
    const store = new PostgresStore(pool, {
      cleanupInterval: 0,
      createTable: false,
      table: uniqueTable(),
    });
    const err = await failure(store.find(TOKEN));
    assert.ok(err instanceof SessionError && !(err instanceof StoreUnavailableError), String(err));
    assert.equal((err.cause as { code?: string }).code, "42P01");
    await store.close();
  });

  it("a token with NUL or a lone surrogate is not found, and committing one throws TypeError", async () => {
    const store = new PostgresStore(pool, { cleanupInterval: 0, table: uniqueTable() });
    for (const token of ["a\0b", "\uD800"]) {
      assert.equal(await store.find(token), undefined);
      await store.delete(token);
      await assert.rejects(store.commit(token, bytes("x"), new Date(Date.now() + HOUR)), TypeError);
    }
    await store.close();
  });

  it("close() stops the cleanup and leaves the pool open", async () => {
    const store = new PostgresStore(pool, { cleanupInterval: 10, table: uniqueTable() });
    await store.close();
    await store.close();
    assert.equal((await pool.query("SELECT 1 AS one")).rows[0].one, 1);
    assert.equal(await store.find("x"), undefined, "the store itself still answers");
  });
});

describe("PostgresStore options", () => {
  const fake: PgPool = { connect: () => {} };
  const cases: [string, Record<string, unknown>][] = [
    ["table", { table: "x; DROP TABLE users" }],
    ["table", { table: 'a"b' }],
    ["table", { table: "a.b.c" }],
    ["table", { table: "" }],
    ["table", { table: "t".repeat(53) }],
    ["deadline", { deadline: 0 }],
    ["deadline", { deadline: -5 }],
    ["deadline", { deadline: "1000" }],
    ["deadline", { deadline: Number.POSITIVE_INFINITY }],
    ["cleanupInterval", { cleanupInterval: -1 }],
    ["cleanupInterval", { cleanupInterval: Number.NaN }],
    ["now", { now: 1 }],
  ];
  for (const [option, options] of cases) {
    it(`${JSON.stringify(options)} throws a TypeError naming ${option}`, () => {
      assert.throws(
        () => new PostgresStore(fake, options),
        (err: unknown) =>
          err instanceof TypeError && err.message.startsWith(`option ${option} is invalid`),
      );
    });
  }
  it("a pool without connect throws a TypeError naming pool", () => {
    assert.throws(() => new PostgresStore({} as never), /^TypeError: pool is invalid/);
  });
});
