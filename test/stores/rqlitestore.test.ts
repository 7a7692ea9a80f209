import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { StoreUnavailableError } from "../../src/errors.ts";
import {
  type ExecuteOptions,
  type ExecuteResult,
  RqliteConnection,
  type Statement,
} from "../../src/stores/rqlite-client.ts";
import { RqliteError } from "../../src/stores/rqlite-errors.ts";
import { julianDay, RqliteStore } from "../../src/stores/rqlitestore.ts";
import { storeConformance } from "../../src/testing/conformance.ts";
import { type RqliteCluster, startNode } from "../helpers/rqlite.ts";

const HOUR = 3_600_000;
let node: RqliteCluster;
let url = "";
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

before(async () => {
  process.on("unhandledRejection", onUnhandled);
  node = await startNode();
  url = node.urls[0] as string;
});
after(async () => {
  await node?.close();
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, [], "no unhandled rejection");
});

const uniqueTable = () => `t_${randomBytes(6).toString("hex")}`;
const bytes = (s: string) => new TextEncoder().encode(s);

/** A real connection that counts the statements it sends (and can fail the next call once). */
class CountingConnection extends RqliteConnection {
  sent: string[] = [];
  failNext = false;
  override async execute(
    statements: readonly Statement[],
    options?: ExecuteOptions,
  ): Promise<ExecuteResult[]> {
    for (const s of statements) this.sent.push(s[0]);
    if (this.failNext) {
      this.failNext = false;
      throw new StoreUnavailableError("injected");
    }
    return super.execute(statements, options);
  }
}

storeConformance("RqliteStore", {
  makeStore: () => new RqliteStore(url, { table: uniqueTable(), cleanupInterval: 0 }),
  closeStore: (s) => (s as RqliteStore).close(),
  startsEmpty: true,
});

describe("RqliteStore on a real rqlited", () => {
  it("works on a table SCS created and reads rows SCS wrote as hex text", async () => {
    const conn = new RqliteConnection({ nodes: url });
    const t = uniqueTable();
    await conn.execute([
      [`CREATE TABLE ${t} (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`],
      [`CREATE INDEX ${t}_expiry_idx ON ${t}(expiry)`],
    ]);
    // The way SCS's Go rqlitestore commits: hex text, julianday of a formatted UTC time.
    const scsCommit = `REPLACE INTO ${t} (token, data, expiry) VALUES (?, ?, julianday(?))`;
    const fmt = (ms: number) => new Date(ms).toISOString().slice(0, 23);
    await conn.execute([
      [
        scsCommit,
        "scs-live",
        Buffer.from([0, 1, 0xfe, 0xff]).toString("hex"),
        fmt(Date.now() + HOUR),
      ],
      [scsCommit, "scs-dead", "abcd", fmt(Date.now() - HOUR)],
    ]);
    const store = new RqliteStore(conn, { table: t, cleanupInterval: 0 });
    try {
      assert.deepEqual(Array.from((await store.find("scs-live")) ?? []), [0, 1, 0xfe, 0xff]);
      assert.equal(await store.find("scs-dead"), undefined);
      await store.commit("ours", bytes("ours"), new Date(Date.now() + HOUR));
      assert.deepEqual(await store.find("ours"), bytes("ours"));
      assert.deepEqual([...(await store.all()).keys()].sort(), ["ours", "scs-live"]);
      assert.equal(await store.deleteExpired(), 1);
      const [count] = await conn.query([[`SELECT count(*) FROM ${t}`]]);
      assert.equal(count?.values[0]?.[0], 2);
    } finally {
      await store.close();
    }
  });

  it("treats SQL metacharacters in tokens as plain data", async () => {
    const t = uniqueTable();
    const store = new RqliteStore(url, { table: t, cleanupInterval: 0 });
    const nasty = [
      "x' OR '1'='1",
      `"; DROP TABLE ${t}; --`,
      "') ; DELETE FROM sessions; --",
      "%",
      "_",
      "\u0000nul",
      "?",
    ];
    try {
      await store.commit("victim", bytes("kept"), new Date(Date.now() + HOUR));
      for (const token of nasty)
        assert.equal(await store.find(token), undefined, JSON.stringify(token));
      for (const [i, token] of nasty.entries())
        await store.commit(token, bytes(`n${i}`), new Date(Date.now() + HOUR));
      for (const [i, token] of nasty.entries())
        assert.deepEqual(await store.find(token), bytes(`n${i}`));
      assert.equal((await store.all()).size, nasty.length + 1);
      // Deleted tokens stay dead (tombstones), and no delete touches another row.
      for (const token of nasty) await store.delete(token);
      assert.deepEqual(await store.find("victim"), bytes("kept"));
      for (const token of nasty)
        await store.commit(token, bytes("again"), new Date(Date.now() + HOUR));
      for (const token of nasty)
        assert.equal(await store.find(token), undefined, JSON.stringify(token));
      assert.equal((await store.all()).size, 1);
    } finally {
      await store.close();
    }
  });

  it("cleanup deletes only expired rows, in batches of 1000", async () => {
    let clock = Date.now();
    const conn = new CountingConnection({ nodes: url });
    const t = uniqueTable();
    const store = new RqliteStore(conn, { table: t, cleanupInterval: 0, now: () => clock });
    try {
      await store.find("warm-up"); // creates the table
      const rows: Statement[] = [];
      for (let i = 0; i < 2500; i++) {
        rows.push([
          `INSERT INTO ${t} VALUES (?, unhex(?), ?)`,
          `old-${i}`,
          "00",
          julianDay(clock + 1000),
        ]);
      }
      for (let i = 0; i < 10; i++) {
        rows.push([
          `INSERT INTO ${t} VALUES (?, unhex(?), ?)`,
          `new-${i}`,
          "01",
          julianDay(clock + HOUR),
        ]);
      }
      await conn.execute(rows, { transaction: true });
      assert.equal((await store.all()).size, 2510);
      clock += 60_000; // the 2500 "old" rows are now expired
      assert.equal((await store.all()).size, 10, "expired rows are not listed");
      conn.sent = [];
      assert.equal(await store.deleteExpired(), 2500);
      // Each batch sweeps the session table and the tombstone table in one request.
      assert.equal(conn.sent.length, 6, "three bounded batches: 1000, 1000, 500");
      const [count] = await conn.query([[`SELECT count(*) FROM ${t}`]]);
      assert.equal(count?.values[0]?.[0], 10);
      assert.deepEqual(await store.find("new-3"), new Uint8Array([1]));
      assert.equal(await store.deleteExpired(), 0);
    } finally {
      await store.close();
    }
  });

  it("background cleanup removes expired rows and reports failures to onError", async () => {
    const t = uniqueTable();
    const errors: unknown[] = [];
    const store = new RqliteStore(url, {
      table: t,
      cleanupInterval: 20,
      onError: (e) => errors.push(e),
    });
    const conn = store.connection;
    try {
      await store.commit("gone", bytes("x"), new Date(Date.now() - 1000));
      await store.commit("stays", bytes("y"), new Date(Date.now() + HOUR));
      let left = 2;
      for (let i = 0; i < 200 && left > 1; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const [count] = await conn.query([[`SELECT count(*) FROM ${t}`]]);
        left = Number(count?.values[0]?.[0]);
      }
      assert.equal(left, 1);
      assert.equal(errors.length, 0, "no cleanup error");
    } finally {
      await store.close();
    }
    const dead = new RqliteStore(
      new RqliteConnection({ nodes: "http://127.0.0.1:9", deadline: 100 }),
      {
        cleanupInterval: 10,
        onError: (e) => errors.push(e),
      },
    );
    for (let i = 0; i < 300 && errors.length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    dead.stopCleanup();
    assert.ok(errors[0] instanceof StoreUnavailableError);
  });

  it("creates the table once under concurrent first calls, and retries after a failure", async () => {
    const conn = new CountingConnection({ nodes: url });
    const store = new RqliteStore(conn, { table: uniqueTable(), cleanupInterval: 0 });
    try {
      conn.failNext = true;
      await assert.rejects(store.find("a"), StoreUnavailableError);
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.find(`t${i}`)));
      await store.commit("a", bytes("a"), new Date(Date.now() + HOUR));
      const creates = conn.sent.filter((s) =>
        /^CREATE TABLE IF NOT EXISTS "t\w+" \(token TEXT PRIMARY KEY, data/.test(s),
      );
      assert.equal(creates.length, 2, "one failed attempt, then exactly one more");
    } finally {
      await store.close();
    }
  });

  it("does not create the table with createTable: false", async () => {
    const conn = new RqliteConnection({ nodes: url });
    const store = new RqliteStore(conn, {
      table: uniqueTable(),
      cleanupInterval: 0,
      createTable: false,
    });
    await assert.rejects(
      store.find("a"),
      (err) => err instanceof RqliteError && /no such table/.test(err.message),
    );
    await store.close();
  });

  it("reads with readConsistency none and writes with queue (opt-ins)", async () => {
    const store = new RqliteStore(url, {
      table: uniqueTable(),
      cleanupInterval: 0,
      readConsistency: "none",
      freshness: "1s",
      queue: true,
    });
    try {
      await store.commit("q", bytes("queued"), new Date(Date.now() + HOUR));
      let found: Uint8Array | undefined;
      for (let i = 0; i < 100 && !found; i++) {
        found = await store.find("q");
        if (!found) await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(found, bytes("queued"));
    } finally {
      await store.close();
    }
  });

  it("versions: a commit from an app server whose clock is behind is still applied; a deleted token stays deleted", async () => {
    const t = uniqueTable();
    const ahead = new RqliteStore(url, {
      table: t,
      cleanupInterval: 0,
      now: () => Date.now() + 60_000,
    });
    const behind = new RqliteStore(url, { table: t, cleanupInterval: 0 });
    try {
      await ahead.commit("skewed", bytes("from the fast clock"), new Date(Date.now() + HOUR));
      await behind.commit("skewed", bytes("acknowledged later"), new Date(Date.now() + HOUR));
      assert.deepEqual(await ahead.find("skewed"), bytes("acknowledged later"));
      await behind.delete("skewed");
      await ahead.commit("skewed", bytes("after the delete"), new Date(Date.now() + HOUR));
      assert.equal(await behind.find("skewed"), undefined);
      const [res] = await behind.connection.query([
        [`SELECT at > 1e299 FROM "${t}_versions" WHERE token = ?`, "skewed"],
      ]);
      assert.equal(res?.values[0]?.[0], 1, "a tombstone");
    } finally {
      await ahead.close();
      await behind.close();
    }
  });

  it("rejects bad options with a TypeError naming the option", () => {
    for (const table of [
      "",
      "1abc",
      "a-b",
      'a"b',
      "t; DROP TABLE x",
      "sqlite_master",
      "x".repeat(64),
    ]) {
      assert.throws(() => new RqliteStore(url, { table }), /option table is invalid/);
    }
    assert.throws(
      () => new RqliteStore(url, { readConsistency: "eventual" as "weak" }),
      /readConsistency/,
    );
    assert.throws(() => new RqliteStore(url, { cleanupInterval: -1 }), /cleanupInterval/);
    assert.throws(
      () => new RqliteStore(url, { versions: "yes" as unknown as boolean }),
      /option versions/,
    );
    assert.throws(
      () => new RqliteStore(url, { tombstoneLifetime: -1 }),
      /option tombstoneLifetime/,
    );
    assert.throws(() => new RqliteConnection({ nodes: url, localAddress: "not-an-ip" }), TypeError);
    assert.throws(() => new RqliteConnection({ nodes: [] }), /option nodes/);
    assert.throws(() => new RqliteConnection({ nodes: "ftp://x" }), /option nodes/);
    assert.throws(() => new RqliteConnection({ nodes: "not a url" }), /option nodes/);
    assert.throws(() => new RqliteConnection({ nodes: url, deadline: 0 }), /option deadline/);
    assert.throws(
      () => new RqliteConnection({ nodes: url, timeout: Number.NaN }),
      /option timeout/,
    );
  });
});

describe("RqliteConnection errors", () => {
  it("an SQL error rejects at once with RqliteError, not StoreUnavailableError", async () => {
    const conn = new RqliteConnection({ nodes: url });
    const err = await conn
      .query([["SELECT * FROM no_such_table WHERE token = ?", "secret-token"]])
      .catch((e) => e);
    assert.ok(err instanceof RqliteError);
    assert.ok(!(err instanceof StoreUnavailableError));
    assert.equal(err.status, 200);
    assert.doesNotMatch(err.message, /secret-token/);
    await conn.close();
  });

  it("an unreachable node list rejects with StoreUnavailableError within the deadline", async () => {
    const conn = new RqliteConnection({
      nodes: ["http://127.0.0.1:9", "http://127.0.0.1:1"],
      deadline: 300,
    });
    const store = new RqliteStore(conn, { cleanupInterval: 0 });
    const started = Date.now();
    const err = await store.find("secret-token").catch((e) => e);
    const elapsed = Date.now() - started;
    assert.ok(err instanceof StoreUnavailableError, String(err));
    assert.ok(err.cause instanceof Error, "cause attached");
    assert.doesNotMatch(err.message, /secret-token/);
    assert.ok(elapsed < 5_000, `rejected after ${elapsed} ms, not hung`);
    await assert.rejects(
      store.commit("t", bytes("x"), new Date(Date.now() + HOUR)),
      StoreUnavailableError,
    );
    await store.close();
  });

  it("keeps working after close() by opening new sockets", async () => {
    const store = new RqliteStore(url, { table: uniqueTable(), cleanupInterval: 0 });
    await store.commit("a", bytes("a"), new Date(Date.now() + HOUR));
    await store.close();
    assert.deepEqual(await store.find("a"), bytes("a"));
    await store.close();
  });
});
