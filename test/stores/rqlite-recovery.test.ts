import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { StoreUnavailableError } from "../../src/errors.ts";
import { RqliteConnection } from "../../src/stores/rqlite-client.ts";
import { RqliteError } from "../../src/stores/rqlite-errors.ts";
import { RqliteStore } from "../../src/stores/rqlitestore.ts";
import { freePort, type RqliteCluster, type RqliteNode, startNode } from "../helpers/rqlite.ts";

const HOUR = 3_600_000;
let cluster: RqliteCluster;
let node: RqliteNode;
let url = "";
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

before(async () => {
  process.on("unhandledRejection", onUnhandled);
  cluster = await startNode();
  node = cluster.nodes[0] as RqliteNode;
  url = node.url;
});
after(async () => {
  await cluster?.close();
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, [], "no unhandled rejection");
});

const uniqueTable = () => `t_${randomBytes(6).toString("hex")}`;
const bytes = (s: string) => new TextEncoder().encode(s);

/** The node's last Raft log index: a `strong` read goes through the log and adds one entry, a `weak` one does not. */
async function logIndex(): Promise<number> {
  const s = (await node.status()) as { store?: { raft?: { last_log_index?: number } } };
  return s.store?.raft?.last_log_index ?? Number.NaN;
}

/** How many Raft log entries `fn` added (nothing else writes to this node meanwhile). */
async function logEntries(fn: () => Promise<unknown>): Promise<number> {
  const before = await logIndex();
  await fn();
  return (await logIndex()) - before;
}

describe("RqliteStore reads strong while the cluster may be recovering", () => {
  it("a new store's first read is strong (through the log), the next ones weak", async () => {
    const store = new RqliteStore(url, { table: uniqueTable(), cleanupInterval: 0 });
    try {
      await store.commit("a", bytes("a"), new Date(Date.now() + HOUR));
      assert.notEqual(store.connection.unsettledSince, undefined, "a write does not settle");
      assert.equal(await logEntries(() => store.find("a")), 1, "first read through the log");
      assert.equal(store.connection.unsettledSince, undefined);
      assert.equal(await logEntries(() => store.find("a")), 0, "then weak");
      assert.equal(await logEntries(() => store.all()), 0);
    } finally {
      await store.close();
    }
  });

  it("after a failed attempt the retry and later reads are strong until one succeeds", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const conn = new RqliteConnection({ nodes: [url, dead], deadline: 5_000 });
    const store = new RqliteStore(conn, { table: uniqueTable(), cleanupInterval: 0 });
    try {
      await store.commit("a", bytes("v1"), new Date(Date.now() + HOUR));
      await store.find("a");
      assert.equal(await logEntries(() => store.find("a")), 0, "settled: weak");

      // The node dies and comes back on its data dir: the cluster restarted.
      await node.kill();
      const pending = store.find("a"); // fails on both nodes, retries until the node is back
      node.spawn();
      await node.waitReady();
      assert.deepEqual(await pending, bytes("v1"));
      assert.equal(store.connection.unsettledSince, undefined, "the successful retry was strong");
      assert.equal(await logEntries(() => store.find("a")), 0, "then weak again");
    } finally {
      await store.close();
    }
  });

  it("a failover to another node: one strong read, then weak", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const store = new RqliteStore([dead, url], { table: uniqueTable(), cleanupInterval: 0 });
    try {
      await store.commit("a", bytes("a"), new Date(Date.now() + HOUR));
      assert.equal(await logEntries(() => store.find("a")), 1);
      assert.equal(await logEntries(() => store.find("a")), 0);
    } finally {
      await store.close();
    }
  });

  it("recoveryWindow 0 never reads strong", async () => {
    const store = new RqliteStore(url, {
      table: uniqueTable(),
      cleanupInterval: 0,
      recoveryWindow: 0,
    });
    try {
      await store.commit("a", bytes("a"), new Date(Date.now() + HOUR));
      assert.equal(await logEntries(() => store.find("a")), 0);
      assert.notEqual(store.connection.unsettledSince, undefined, "never confirmed");
    } finally {
      await store.close();
    }
  });

  it("the window ends strong reads even unconfirmed (its clock moves, no sleeping)", async () => {
    let now = 1_000_000;
    const conn = new RqliteConnection({ nodes: url, now: () => now });
    const store = new RqliteStore(conn, {
      table: uniqueTable(),
      cleanupInterval: 0,
      recoveryWindow: 5_000,
    });
    try {
      await store.commit("a", bytes("a"), new Date(Date.now() + HOUR));
      now += 5_000;
      assert.equal(await logEntries(() => store.find("a")), 0, "past the window: weak");
      assert.equal(conn.unsettledSince, 1_000_000);
    } finally {
      await store.close();
    }
  });

  it("rejects a bad recoveryWindow or now with a TypeError naming it", () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, "10" as unknown as number]) {
      assert.throws(() => new RqliteStore(url, { recoveryWindow: bad }), {
        name: "TypeError",
        message: /recoveryWindow/,
      });
    }
    assert.throws(() => new RqliteConnection({ nodes: url, now: 5 as unknown as () => number }), {
      name: "TypeError",
      message: /option now/,
    });
  });
});

describe("RqliteStore and a table the node does not have (yet)", () => {
  it("no such table on a table the store created is retried, then StoreUnavailableError", async () => {
    const table = uniqueTable();
    const conn = new RqliteConnection({ nodes: url, deadline: 400 });
    const store = new RqliteStore(conn, { table, cleanupInterval: 0 });
    try {
      await store.commit("a", bytes("a"), new Date(Date.now() + HOUR));
      // What a node still replaying its log looks like: the table is not there (yet).
      await conn.execute([[`DROP TABLE "${table}"`]]);
      const started = Date.now();
      const err = await store.find("a").then(
        () => assert.fail("find should reject"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StoreUnavailableError, String(err));
      assert.match(String((err.cause as Error).message), /no such table/);
      assert.ok(Date.now() - started >= 300, "retried until the deadline");
      // The table comes back (the log is applied): the store serves again by itself.
      await conn.execute([
        [
          `CREATE TABLE "${table}" (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`,
        ],
      ]);
      // (A busy machine's rqlited may miss this connection's short deadline once: the store
      // must serve again, so a StoreUnavailableError is retried for a few seconds.)
      const until = Date.now() + 5000;
      let found: Uint8Array | undefined | "unavailable" = "unavailable";
      while (found === "unavailable" && Date.now() < until) {
        found = await store.find("a").catch((e: unknown) => {
          if (e instanceof StoreUnavailableError) return "unavailable" as const;
          throw e;
        });
      }
      assert.equal(found, undefined);
    } finally {
      await store.close();
    }
  });

  it("no such table on a table never seen (createTable: false) is an RqliteError at once", async () => {
    const store = new RqliteStore(url, {
      table: uniqueTable(),
      cleanupInterval: 0,
      createTable: false,
    });
    try {
      await assert.rejects(store.find("a"), (err: unknown) => {
        assert.ok(err instanceof RqliteError && !(err instanceof StoreUnavailableError));
        assert.match(err.message, /no such table/);
        return true;
      });
    } finally {
      await store.close();
    }
  });
});
