import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadThroughFault } from "../helpers/load.ts";
import type { RqliteNode } from "../helpers/rqlite.ts";
import { CLIENT_TIMEOUT, type FaultApp, faultHarness } from "./fault-checks.ts";

describe("the demo on a 3-node rqlite cluster through a hung node and a full outage", () => {
  const h = faultHarness();
  const { logged } = h;
  const { startApp, check } = h;

  it("a hung (SIGSTOPped) node the app talks to: requests move on within the deadline", async () => {
    const { conn, server } = await startApp("hung");
    const hung = h.cluster.nodes.find((n) => n.url === conn.currentNode) as RqliteNode;
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
  async function fullOutage(label: string, a: FaultApp): Promise<void> {
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
        await Promise.all(h.cluster.nodes.map((n) => n.kill()));
      },
      faultMs: 3_000,
      repair: async () => {
        for (const n of h.cluster.nodes) n.spawn();
        await Promise.all(h.cluster.nodes.map((n) => n.waitReady()));
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
