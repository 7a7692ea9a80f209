import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ReadConsistency, RqliteConnection } from "../../src/stores/rqlite-client.ts";
import { RqliteStore } from "../../src/stores/rqlitestore.ts";
import { listen } from "../helpers/http.ts";
import { createLoadApp, type FaultRun, loadThroughFault } from "../helpers/load.ts";
import { type RqliteCluster, type RqliteNode, startCluster } from "../helpers/rqlite.ts";
import { assertFaultRun } from "./fault-checks.ts";

/** The store's overall deadline per call; a request makes at most 3 store calls (find, delete, commit). */
const DEADLINE = 2_000;
const CLIENT_TIMEOUT = 3 * DEADLINE + 2_000;

describe("the demo on a 3-node rqlite cluster through a hung node and a full outage", () => {
  let cluster: RqliteCluster;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  const logged = { errors: 0, kinds: new Map<string, number>() };
  const apps: App[] = [];

  interface App {
    conn: RqliteConnection;
    app: ReturnType<typeof createLoadApp>;
    server: Awaited<ReturnType<typeof listen>>;
  }

  /** The demo on its own table, with the store's default read consistency unless given. */
  async function startApp(table: string, readConsistency?: ReadConsistency): Promise<App> {
    const conn = new RqliteConnection({ nodes: cluster.urls, deadline: DEADLINE });
    const store = new RqliteStore(conn, {
      table,
      cleanupInterval: 0,
      ...(readConsistency ? { readConsistency } : {}),
    });
    const app = createLoadApp({
      store,
      logger: {
        warn: () => {},
        error: (message: string) => {
          logged.errors++;
          // The error's kind, without the rest of the message (it never holds a token, but keep it short).
          const kind = message.replace(/\d+/g, "N").slice(0, 140);
          logged.kinds.set(kind, (logged.kinds.get(kind) ?? 0) + 1);
        },
      },
    });
    const started = { conn, app, server: await listen(app.server) };
    apps.push(started);
    return started;
  }

  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    cluster = await startCluster(3);
  });
  after(async () => {
    for (const n of cluster?.nodes ?? []) n.resume();
    for (const a of apps) {
      await a.server.close();
      await a.app.sessions.close();
    }
    await cluster?.close();
    process.off("unhandledRejection", onUnhandled);
  });

  function check(label: string, run: FaultRun): void {
    assertFaultRun(label, run, { unhandled, logged, clientTimeout: CLIENT_TIMEOUT });
  }

  it("a hung (SIGSTOPped) node the app talks to: requests move on within the deadline", async () => {
    const { conn, server } = await startApp("hung");
    const hung = cluster.nodes.find((n) => n.url === conn.currentNode) as RqliteNode;
    assert.ok(hung, "the node the connection uses");
    const run = await loadThroughFault({
      url: server.url,
      requestTimeoutMs: CLIENT_TIMEOUT,
      fault: () => hung.pause(),
      faultMs: 3_000,
      repair: async () => {
        hung.resume();
        await hung.waitReady();
      },
    });
    check(`SIGSTOP of ${(await hung.isLeader()) ? "a" : "the former"} leader`, run);
    assert.notEqual(run.firstSuccessAfterFault, undefined);
    assert.ok(
      (run.firstSuccessAfterFault as number) < run.repairedAt,
      "the other nodes served while it hung",
    );
  });

  /**
   * Kills every node under load, restarts them on their data dirs, then checks the 50 sessions
   * committed before and every client's acknowledged counter.
   */
  async function fullOutage(label: string, a: App): Promise<void> {
    const before = new Map<string, number>();
    for (let i = 0; i < 50; i++) {
      const s = await a.app.sessions.load(undefined);
      s.put("visits", 1000 + i);
      const { token } = await a.app.sessions.commit(s);
      before.set(token, 1000 + i);
    }
    const run = await loadThroughFault({
      url: a.server.url,
      requestTimeoutMs: CLIENT_TIMEOUT,
      fault: async () => {
        await Promise.all(cluster.nodes.map((n) => n.kill()));
      },
      faultMs: 3_000,
      repair: async () => {
        for (const n of cluster.nodes) n.spawn();
        await Promise.all(cluster.nodes.map((n) => n.waitReady()));
      },
      recoverWithinMs: 20_000,
    });
    let kept = 0;
    for (const [token, visits] of before) {
      if ((await a.app.sessions.load(token)).get("visits") === visits) kept++;
    }
    console.log(
      `  ${label}: ${kept} of ${before.size} sessions committed before the outage found after it`,
    );
    console.log(`  errors logged, by kind: ${JSON.stringify([...logged.kinds])}`);
    logged.kinds.clear();
    check(label, run);
    assert.ok((run.duringFault["503"] ?? 0) > 0, "the outage was answered with 503");
    assert.equal(kept, before.size, "every session committed before the outage is still there");
  }

  it("all nodes killed and restarted, default reads (weak, strong while recovering): no acknowledged write lost", async () => {
    await fullOutage("full outage, weak reads", await startApp("outage_weak"));
  });

  it("all nodes killed and restarted, strong reads: 503s meanwhile, every session and write kept", async () => {
    await fullOutage("full outage, strong reads", await startApp("outage_strong", "strong"));
  });
});
