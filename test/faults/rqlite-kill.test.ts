import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadThroughFault } from "../helpers/load.ts";
import type { RqliteNode } from "../helpers/rqlite.ts";
import { CLIENT_TIMEOUT, type FaultApp, faultHarness } from "./fault-checks.ts";

describe("the demo on a 3-node rqlite cluster while nodes are SIGKILLed", () => {
  const h = faultHarness();
  const { startApp, check } = h;

  async function restart(node: RqliteNode): Promise<void> {
    node.spawn();
    await node.waitReady();
  }

  it("a killed follower: requests keep succeeding or get 503, and it rejoins", async () => {
    const { server } = await startApp("follower");
    const leader = await h.cluster.leader();
    const follower = h.cluster.nodes.find((n) => n !== leader) as RqliteNode;
    const run = await loadThroughFault({
      url: server.url,
      requestTimeoutMs: CLIENT_TIMEOUT,
      fault: () => follower.kill(),
      faultMs: 3_000,
      repair: () => restart(follower),
    });
    check("follower SIGKILL", run);
  });

  async function killLeader(label: string, a: FaultApp): Promise<void> {
    const leader = await h.cluster.leader();
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
