/**
 * Network partitions (nftables on loopback) under load, Jepsen-style: three rqlited nodes on
 * 127.0.0.11–13, the app servers on 127.0.0.2, every read-consistency setting at once (each on
 * its own table, two app servers each), and a checker over the history of acknowledged
 * operations. The store's default configuration must show no violation; the others are
 * reported (README, "Reliability and security"). The long random run is `npm run chaos`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { canPartition, createPartitions, liveTables, type Partitions } from "../helpers/nft.ts";
import { type RqliteCluster, startCluster } from "../helpers/rqlite.ts";
import {
  APP_ADDRESS,
  check,
  formatReports,
  NODE_ADDRESSES,
  NODE_UIDS,
  prng,
  randomPartitions,
  runWorkload,
  type Setting,
  type SettingApps,
  type SettingReport,
  startSetting,
} from "./partition-history.ts";

const SETTINGS: readonly Setting[] = ["default", "none", "weak", "linearizable", "strong"];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe("network partitions under load: no lost write, no stale read, no retired token served (default settings)", {
  skip: canPartition() ? false : "needs root (or sudo -n) for nftables on Linux",
}, () => {
  let net: Partitions | undefined;
  let cluster: RqliteCluster | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  let run = 0;

  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    // The table first: the nodes' very first connections already carry their own addresses.
    net = await createPartitions([
      ...NODE_ADDRESSES.map((address, i) => ({ address, uid: NODE_UIDS[i] })),
      { address: APP_ADDRESS },
    ]);
    cluster = await startCluster(3, { hosts: NODE_ADDRESSES, uids: NODE_UIDS });
  });
  after(async () => {
    await cluster?.close();
    await net?.close();
    process.off("unhandledRejection", onUnhandled);
    assert.deepEqual(liveTables(), [], "the test's nftables table is gone");
  });

  /** Runs every setting through `scenario`, prints and checks the reports. */
  async function through(label: string, scenario: () => Promise<void>): Promise<SettingReport[]> {
    const c = cluster as RqliteCluster;
    const n = net as Partitions;
    const settings: SettingApps[] = [];
    try {
      for (const s of SETTINGS) settings.push(await startSetting(c.urls, s, `p${run}_${s}`));
      run++;
      const histories = await runWorkload({
        settings,
        clientsPerSetting: 4,
        durationMs: 30_000,
        maxRequests: 50_000,
        seed: run,
        scenario,
        settle: async () => {
          await n.heal();
          await c.leader();
        },
      });
      const reports = settings.map((s) =>
        check(s.setting, histories.get(s.setting) ?? [], s.logged),
      );
      console.log(formatReports(label, reports));
      const d = reports.find((r) => r.setting === "default") as SettingReport;
      console.log(`  default's logged errors: ${JSON.stringify(d.logged)}`);
      for (const r of reports) {
        for (const outcome of Object.keys(r.outcomes)) {
          assert.ok(
            ["200", "303", "503"].includes(outcome),
            `${r.setting}: only 2xx/303/503, got ${outcome}`,
          );
        }
        assert.equal(r.unverified, 0, `${r.setting}: every client read its counter after the heal`);
      }
      assert.deepEqual(d.violations, { lostWrites: 0, staleReads: 0, retiredServed: 0 });
      assert.ok(d.acknowledged.writes > 0, "the default's clients got writes through");
      const strong = reports.find((r) => r.setting === "strong") as SettingReport;
      assert.deepEqual(strong.violations, { lostWrites: 0, staleReads: 0, retiredServed: 0 });
      assert.deepEqual(unhandled, [], "no unhandled rejection");
      return reports;
    } finally {
      for (const s of settings) await s.close();
      await n.heal();
    }
  }

  it("(a) the leader cut off from both followers, the app still reaching every node", async () => {
    const c = cluster as RqliteCluster;
    const leader = await c.leader();
    const followers = NODE_ADDRESSES.filter((a) => a !== leader.host);
    await through(`(a) leader ${leader.host} cut off from ${followers.join(", ")}`, async () => {
      await sleep(700);
      await (net as Partitions).split([leader.host], followers);
      await sleep(3_000);
    });
  });

  it("(b) the app cut off from the leader only", async () => {
    const leader = await (cluster as RqliteCluster).leader();
    await through(`(b) app cut off from leader ${leader.host}`, async () => {
      await sleep(700);
      await (net as Partitions).set([[APP_ADDRESS, leader.host]]);
      await sleep(3_000);
    });
  });

  it("(c) random partitions every 0.5-3 s, healed at the end", async () => {
    let changes = 0;
    await through("(c) random partitions for 6 s", async () => {
      changes = await randomPartitions(net as Partitions, 6_000, prng(42));
    });
    console.log(`  ${changes} partitions`);
  });
});
