/**
 * A commit that timed out and is applied later never brings a signed-out (or renewed) session
 * back, nor undoes a newer acknowledged write. A proxy in front of one node holds the commit past the attempt timeout; the connection
 * retries on another node and succeeds; the user signs out (or the token is renewed); then the
 * held commit reaches the node and is applied. What counts is what a fresh strong read from a
 * third node, and a second app server (its own manager, so no in-process memory of retired
 * tokens), see afterwards.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SessionManager } from "../../src/index.ts";
import { RqliteConnection } from "../../src/stores/rqlite-client.ts";
import { RqliteStore } from "../../src/stores/rqlitestore.ts";
import { type HoldingProxy, startHoldingProxy } from "../helpers/holding-proxy.ts";
import { type RqliteCluster, type RqliteNode, startCluster } from "../helpers/rqlite.ts";

let cluster: RqliteCluster;
let proxy: HoldingProxy;
/** The node behind the proxy, and the one that reads the outcome. */
let held: RqliteNode;
let witness: RqliteNode;
let tableNo = 0;

before(async () => {
  cluster = await startCluster(3);
  [held, , witness] = cluster.nodes as [RqliteNode, RqliteNode, RqliteNode];
  proxy = await startHoldingProxy(held.url);
});
after(async () => {
  await proxy?.close();
  await cluster?.close();
});

/** Two app servers on one table: the first reaches the proxy first, the second never does. */
async function apps(versions: boolean) {
  const table = `delayed_${tableNo++}`;
  const [, direct, third] = cluster.nodes as [RqliteNode, RqliteNode, RqliteNode];
  // One attempt gets 800 ms (room for a busy machine): the held commit times out there and is
  // retried on the next node.
  const conn = new RqliteConnection({
    nodes: [proxy.url, direct.url, third.url],
    timeout: 800,
    deadline: 4_000,
  });
  const store = new RqliteStore(conn, { table, cleanupInterval: 0, versions });
  const other = new RqliteStore(new RqliteConnection({ nodes: [third.url, direct.url] }), {
    table,
    cleanupInterval: 0,
  });
  await store.find("warm-up"); // the table exists; the proxy's node answered last
  assert.equal(conn.currentNode, proxy.url);
  const a = new SessionManager({ store });
  const b = new SessionManager({ store: other });
  const check = new RqliteConnection({ nodes: witness.url });
  return {
    a,
    b,
    conn,
    /** The row of `token` as a strong read on the witness node sees it. */
    async row(token: string) {
      const [res] = await check.query(
        [[`SELECT length(data), expiry > julianday('now') FROM "${table}" WHERE token = ?`, token]],
        { level: "strong" },
      );
      return res?.values[0];
    },
    async close() {
      await a.close();
      await b.close();
      await check.close();
    },
  };
}

/** Holds the next commit of `token` (its upsert), lets `change` run, then releases it. */
async function holdCommitOf(token: string | undefined, commit: () => Promise<unknown>) {
  proxy.hold(
    (req) =>
      req.startsWith("POST /db/execute") &&
      req.includes("INSERT INTO") &&
      (token === undefined || req.includes(token)),
  );
  const t0 = performance.now();
  const result = await commit();
  const ms = performance.now() - t0;
  assert.equal(proxy.held, 1, "the commit was held at the proxy, and acknowledged after a retry");
  return { result, ms };
}

/** rows_affected of a released upsert's answer. */
const applied = (answer: string | undefined): number =>
  (JSON.parse(answer ?? "{}") as { results?: { rows_affected?: number }[] }).results?.[0]
    ?.rows_affected ?? 0;

describe("a delayed commit after a sign-out (destroy)", () => {
  it("with versions (the default): the session stays gone for every app server", async () => {
    const h = await apps(true);
    try {
      const s = await h.a.load(undefined);
      s.put("user", "alice");
      const { result, ms } = await holdCommitOf(undefined, () => h.a.commit(s));
      const { token } = result as { token: string };
      console.log(`  commit acknowledged after ${Math.round(ms)} ms (held, retried elsewhere)`);
      assert.equal((await h.b.load(token)).get("user"), "alice");
      const out = await h.a.load(token);
      await out.destroy();
      assert.equal(await h.row(token), undefined, "the sign-out is acknowledged");
      const [answer] = await proxy.release();
      assert.equal(applied(answer), 0, "the late upsert reached rqlite and changed nothing");
      assert.equal(await h.row(token), undefined, "no row under the signed-out token");
      const later = await h.b.load(token);
      assert.equal(later.get("user"), undefined, "another app server sees no session");
    } finally {
      await h.close();
    }
  });

  it("without versions the same sequence brings the session back (what they prevent)", async () => {
    const h = await apps(false);
    try {
      const s = await h.a.load(undefined);
      s.put("user", "alice");
      const { result } = await holdCommitOf(undefined, () => h.a.commit(s));
      const { token } = result as { token: string };
      await (await h.a.load(token)).destroy();
      assert.equal(await h.row(token), undefined);
      const [answer] = await proxy.release();
      assert.equal(applied(answer), 1);
      const row = await h.row(token);
      assert.equal(row?.[1], 1, "the row is back, unexpired");
      assert.equal((await h.b.load(token)).get("user"), "alice", "signed in again");
    } finally {
      await h.close();
    }
  });
});

describe("a delayed commit after renewToken deleted the old token", () => {
  it("with versions: the old token stays dead, the new one carries the session", async () => {
    const h = await apps(true);
    try {
      const s = await h.a.load(undefined);
      s.put("visits", 1);
      const { token: oldToken } = await h.a.commit(s);
      const again = await h.a.load(oldToken);
      again.put("visits", 2);
      await holdCommitOf(oldToken, () => h.a.commit(again));
      // Sign-in: the session moves to a new token; the old one is deleted.
      const renewed = await h.a.load(oldToken);
      await renewed.renewToken();
      renewed.put("user", "alice");
      const { token: newToken } = await h.a.commit(renewed);
      assert.notEqual(newToken, oldToken);
      assert.equal(await h.row(oldToken), undefined, "the renewal deleted the old token");
      const [answer] = await proxy.release();
      assert.equal(applied(answer), 0, "the late upsert of the old token changed nothing");
      assert.equal(await h.row(oldToken), undefined);
      assert.equal((await h.b.load(oldToken)).get("visits"), undefined, "old token: no session");
      const current = await h.b.load(newToken);
      assert.equal(current.get("user"), "alice");
      assert.equal(current.get("visits"), 2);
    } finally {
      await h.close();
    }
  });
});

describe("a delayed commit after a newer acknowledged write", () => {
  async function lateOverNewer(versions: boolean): Promise<unknown> {
    const h = await apps(versions);
    try {
      const s = await h.a.load(undefined);
      s.put("visits", 1);
      const { token } = await h.a.commit(s);
      const second = await h.a.load(token);
      second.put("visits", 2);
      await holdCommitOf(token, () => h.a.commit(second));
      const third = await h.a.load(token);
      assert.equal(third.get("visits"), 2);
      third.put("visits", 3);
      await h.a.commit(third);
      await proxy.release();
      return (await h.b.load(token)).get("visits");
    } finally {
      await h.close();
    }
  }

  it("with versions (the default): the late write changes nothing, the newer value stays", async () => {
    assert.equal(await lateOverNewer(true), 3);
  });

  it("without versions the late write undoes the acknowledged one (what they prevent)", async () => {
    assert.equal(await lateOverNewer(false), 2);
  });
});
