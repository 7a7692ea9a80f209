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

describe("the demo on a 3-node rqlite cluster while nodes are SIGKILLed", () => {
  let cluster: RqliteCluster;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  const logged = { errors: 0 };
  const apps: App[] = [];

  interface App {
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
      logger: { warn: () => {}, error: () => void logged.errors++ },
    });
    const started = { app, server: await listen(app.server) };
    apps.push(started);
    return started;
  }

  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    cluster = await startCluster(3);
  });
  after(async () => {
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

  async function restart(node: RqliteNode): Promise<void> {
    node.spawn();
    await node.waitReady();
  }

  it("a killed follower: requests keep succeeding or get 503, and it rejoins", async () => {
    const { server } = await startApp("follower");
    const leader = await cluster.leader();
    const follower = cluster.nodes.find((n) => n !== leader) as RqliteNode;
    const run = await loadThroughFault({
      url: server.url,
      requestTimeoutMs: CLIENT_TIMEOUT,
      fault: () => follower.kill(),
      faultMs: 3_000,
      repair: () => restart(follower),
    });
    check("follower SIGKILL", run);
  });

  async function killLeader(label: string, a: App): Promise<void> {
    const leader = await cluster.leader();
    const run = await loadThroughFault({
      url: a.server.url,
      requestTimeoutMs: CLIENT_TIMEOUT,
      fault: () => leader.kill(),
      faultMs: 3_000,
      repair: () => restart(leader),
    });
    check(label, run);
    assert.notEqual(run.firstSuccessAfterFault, undefined);
    assert.ok(
      (run.firstSuccessAfterFault as number) < run.repairedAt,
      "the survivors served before the old leader came back",
    );
  }

  it("a killed leader, default reads (weak, strong while recovering): 2xx or 503, a new leader serves, nothing acknowledged is lost", async () => {
    await killLeader("leader SIGKILL, weak reads", await startApp("leader_weak"));
  });

  it("a killed leader, strong reads: 2xx or 503, a new leader serves, nothing acknowledged is lost", async () => {
    await killLeader("leader SIGKILL, strong reads", await startApp("leader_strong", "strong"));
  });
});
