import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { StoreUnavailableError } from "../../src/errors.ts";
import { SessionManager } from "../../src/manager.ts";
import { RqliteConnection } from "../../src/stores/rqlite-client.ts";
import { RqliteAuthError } from "../../src/stores/rqlite-errors.ts";
import { RqliteStore } from "../../src/stores/rqlitestore.ts";
import { type RqliteCluster, type RqliteNode, startCluster, startNode } from "../helpers/rqlite.ts";

const HOUR = 3_600_000;
const bytes = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const uniqueTable = () => `t_${randomBytes(6).toString("hex")}`;
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

let cluster: RqliteCluster;

before(async () => {
  process.on("unhandledRejection", onUnhandled);
  cluster = await startCluster(3);
});
after(async () => {
  await cluster?.close();
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, [], "no unhandled rejection");
});

/** Restarts every stopped node of the cluster and waits until all are ready again. */
async function heal(): Promise<void> {
  for (const n of cluster.nodes) if (!n.running) n.spawn();
  await Promise.all(cluster.nodes.map((n) => n.waitReady()));
}

async function followers(): Promise<RqliteNode[]> {
  const leader = await cluster.leader();
  return cluster.nodes.filter((n) => n !== leader);
}

describe("RqliteStore on a 3-node rqlite cluster", () => {
  it("two SessionManagers on different nodes share sessions", async () => {
    const table = uniqueTable();
    const [a, b] = [0, 2].map(
      (i) =>
        new SessionManager<{ user: string }>({
          store: new RqliteStore(cluster.urls[i] as string, { table, cleanupInterval: 0 }),
        }),
    ) as [SessionManager<{ user: string }>, SessionManager<{ user: string }>];
    try {
      const s1 = await a.load(undefined);
      s1.put("user", "ada");
      const { token } = await a.commit(s1);
      const s2 = await b.load(token);
      assert.equal(s2.get("user"), "ada", "node 3 sees what node 1 wrote");
      s2.put("user", "grace");
      await b.commit(s2);
      assert.equal((await a.load(token)).get("user"), "grace", "and back");
      await (await b.load(token)).destroy();
      assert.equal(
        (await a.load(token)).get("user"),
        undefined,
        "destroy is seen on the other node",
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a hung (SIGSTOPped) follower does not stall requests past the per-attempt timeout", async () => {
    const [hung] = await followers();
    assert.ok(hung);
    const others = cluster.nodes.filter((n) => n !== hung).map((n) => n.url);
    // The hung node first in the list: every call starts there until another node answers.
    const conn = new RqliteConnection({
      nodes: [hung.url, ...others],
      timeout: 300,
      deadline: 5_000,
    });
    const store = new RqliteStore(conn, { table: uniqueTable(), cleanupInterval: 0 });
    try {
      await store.commit("warm", bytes("w"), new Date(Date.now() + HOUR));
      await hung.pause();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.commit(`k${i}`, bytes(`v${i}`), new Date(Date.now() + HOUR)),
        ),
      );
      assert.equal(results.length, 8);
      for (let i = 0; i < 8; i++) assert.deepEqual(await store.find(`k${i}`), bytes(`v${i}`));
      assert.notEqual(conn.currentNode, hung.url, "the connection moved off the hung node");
    } finally {
      hung.resume();
      await store.close();
    }
  });

  it("leader SIGKILLed under concurrent writes: every acknowledged write survives, writes resume", async () => {
    const table = uniqueTable();
    const store = new RqliteStore(
      new RqliteConnection({ nodes: cluster.urls, timeout: 1_000, deadline: 10_000 }),
      {
        table,
        cleanupInterval: 0,
      },
    );
    const acked: string[] = [];
    const failed: unknown[] = [];
    let ackedAfterKill = 0;
    let killedAt = 0;
    let stop = false;
    try {
      await store.find("create-table");
      const writer = async (w: number) => {
        for (let i = 0; !stop && i < 5_000; i++) {
          const token = `w${w}-${i}`;
          try {
            await store.commit(token, bytes(token), new Date(Date.now() + HOUR));
            acked.push(token);
            if (killedAt) ackedAfterKill++;
          } catch (err) {
            failed.push(err);
          }
        }
      };
      const writers = Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
      while (acked.length < 200) await sleep(10);
      const leader = await cluster.leader();
      killedAt = Date.now();
      await leader.kill("SIGKILL");
      for (let i = 0; i < 1_000 && ackedAfterKill < 200; i++) await sleep(10);
      stop = true;
      await writers;
      assert.ok(
        ackedAfterKill >= 200,
        `writes resumed after the leader died (${ackedAfterKill} acked)`,
      );
      for (const err of failed) assert.ok(err instanceof StoreUnavailableError, String(err));
      // Every acknowledged write is readable from the survivors.
      const survivors = cluster.nodes.filter((n) => n.running).map((n) => n.url);
      for (const url of survivors) {
        const reader = new RqliteStore(url, { table, cleanupInterval: 0 });
        const all = await reader.all();
        const missing = acked.filter((t) => !all.has(t));
        assert.deepEqual(
          missing.slice(0, 5),
          [],
          `${missing.length} of ${acked.length} acknowledged writes missing via ${url}`,
        );
        await reader.close();
      }
    } finally {
      stop = true;
      await store.close();
      await heal();
    }
  });

  it("quorum lost (2 of 3 killed) gives StoreUnavailableError within the deadline; quorum back recovers by itself", async () => {
    const store = new RqliteStore(
      new RqliteConnection({ nodes: cluster.urls, timeout: 500, deadline: 1_500 }),
      {
        table: uniqueTable(),
        cleanupInterval: 0,
      },
    );
    try {
      await store.commit("before", bytes("b"), new Date(Date.now() + HOUR));
      const [f1, f2] = await followers();
      assert.ok(f1 && f2);
      await Promise.all([f1.kill(), f2.kill()]);
      const started = Date.now();
      const err = await store
        .commit("during", bytes("d"), new Date(Date.now() + HOUR))
        .catch((e) => e);
      const elapsed = Date.now() - started;
      assert.ok(err instanceof StoreUnavailableError, String(err));
      assert.ok(elapsed < 10_000, `rejected after ${elapsed} ms, not hung`);
      // Restart on the same data dirs; the store recovers with no help.
      f1.spawn();
      f2.spawn();
      assert.ok(await recovers(store), "writes work again");
      assert.deepEqual(
        await store.find("before"),
        bytes("b"),
        "data from before the outage is kept",
      );
      assert.deepEqual(await store.find("after"), bytes("a"));
    } finally {
      await store.close();
      await heal();
    }
  });

  it("every node killed and restarted on the same data dirs: sessions are all still there", async () => {
    const store = new RqliteStore(
      new RqliteConnection({ nodes: cluster.urls, timeout: 500, deadline: 1_500 }),
      {
        table: uniqueTable(),
        cleanupInterval: 0,
      },
    );
    try {
      for (let i = 0; i < 50; i++)
        await store.commit(`s${i}`, bytes(`v${i}`), new Date(Date.now() + HOUR));
      await Promise.all(cluster.nodes.map((n) => n.kill()));
      await assert.rejects(store.find("s0"), StoreUnavailableError);
      for (const n of cluster.nodes) n.spawn();
      assert.ok(await recovers(store), "writes work again");
      for (let i = 0; i < 50; i++) assert.deepEqual(await store.find(`s${i}`), bytes(`v${i}`));
    } finally {
      await store.close();
      await heal();
    }
  });
});

/** Commits "after" until it succeeds (bounded: 60 calls, each within the store's deadline). */
async function recovers(store: RqliteStore): Promise<boolean> {
  for (let i = 0; i < 60; i++) {
    try {
      await store.commit("after", bytes("a"), new Date(Date.now() + HOUR));
      return true;
    } catch (e) {
      assert.ok(e instanceof StoreUnavailableError, String(e));
    }
  }
  return false;
}

describe("rqlite basic auth", () => {
  let secured: RqliteCluster;
  before(async () => {
    secured = await startNode({ auth: [{ username: "app", password: "s3cret:with colon" }] });
  });
  after(() => secured?.close());

  it("accepts the right credentials, in options or in the URL", async () => {
    const url = secured.urls[0] as string;
    const store = new RqliteStore(
      new RqliteConnection({ nodes: url, username: "app", password: "s3cret:with colon" }),
      {
        table: uniqueTable(),
        cleanupInterval: 0,
      },
    );
    await store.commit("a", bytes("a"), new Date(Date.now() + HOUR));
    assert.deepEqual(await store.find("a"), bytes("a"));
    await store.close();
    const inUrl = url.replace("http://", `http://app:${encodeURIComponent("s3cret:with colon")}@`);
    const store2 = new RqliteStore(inUrl, { table: uniqueTable(), cleanupInterval: 0 });
    assert.equal(await store2.find("a"), undefined);
    assert.deepEqual(store2.connection.nodes, [url], "credentials are not shown in node URLs");
    await store2.close();
  });

  it("rejects wrong or missing credentials at once with RqliteAuthError (status 401)", async () => {
    const url = secured.urls[0] as string;
    for (const conn of [
      new RqliteConnection({ nodes: url, username: "app", password: "wrong" }),
      new RqliteConnection({ nodes: url }),
    ]) {
      const store = new RqliteStore(conn, { table: uniqueTable(), cleanupInterval: 0 });
      const err = await store.find("a").catch((e) => e);
      assert.ok(err instanceof RqliteAuthError, String(err));
      assert.ok(!(err instanceof StoreUnavailableError));
      assert.equal(err.status, 401);
      await store.close();
    }
  });
});

describe("rqlite over https", () => {
  let dir = "";
  let tlsNode: RqliteCluster | undefined;
  const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
  before(async () => {
    if (!hasOpenssl) return;
    dir = mkdtempSync(join(tmpdir(), "scs-rqlite-tls-"));
    const gen = spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ]);
    assert.equal(gen.status, 0, String(gen.stderr));
    tlsNode = await startNode({
      tls: { certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") },
    });
  });
  after(async () => {
    await tlsNode?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("works with an https URL and the server's CA, and refuses an untrusted certificate", {
    skip: !hasOpenssl,
  }, async () => {
    const url = tlsNode?.urls[0] as string;
    assert.match(url, /^https:/);
    const ca = readFileSync(join(dir, "cert.pem"));
    const store = new RqliteStore(new RqliteConnection({ nodes: url, tls: { ca } }), {
      table: uniqueTable(),
      cleanupInterval: 0,
    });
    await store.commit("a", bytes("over tls"), new Date(Date.now() + HOUR));
    assert.deepEqual(await store.find("a"), bytes("over tls"));
    await store.close();
    const untrusted = new RqliteStore(new RqliteConnection({ nodes: url, deadline: 300 }), {
      cleanupInterval: 0,
    });
    const err = await untrusted.find("a").catch((e) => e);
    assert.ok(err instanceof StoreUnavailableError, String(err));
    await untrusted.close();
  });
});
