/**
 * `npm run chaos`: the long random-partition run. Three rqlited nodes on 127.0.0.11–13, the app
 * servers on 127.0.0.2, every read-consistency setting at once under partitions that change
 * every 0.5–3 s (nftables on loopback, the run's own table, deleted at the end), healed at the
 * end; then the checker's violations per setting. Exits 1 when the store's default settings
 * show any. Needs root (or `sudo -n`) on Linux.
 *
 *   npm run chaos                  # 90 s
 *   npm run chaos -- 300 7         # 300 s, seed 7
 * @module
 */

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
  startSetting,
} from "../test/faults/partition-history.ts";
import { canPartition, createPartitions } from "../test/helpers/nft.ts";
import { startCluster } from "../test/helpers/rqlite.ts";

const seconds = Math.min(3_600, Math.max(5, Number(process.argv[2] ?? 90) || 90));
const seed = Number(process.argv[3] ?? 1) || 1;
const SETTINGS: readonly Setting[] = ["default", "none", "weak", "linearizable", "strong"];

if (!canPartition()) {
  console.error("npm run chaos needs root (or sudo -n) for nftables on Linux");
  process.exit(2);
}
const net = await createPartitions([
  ...NODE_ADDRESSES.map((address, i) => ({ address, uid: NODE_UIDS[i] })),
  { address: APP_ADDRESS },
]);
let failed = false;
try {
  const cluster = await startCluster(3, { hosts: NODE_ADDRESSES, uids: NODE_UIDS });
  const settings: SettingApps[] = [];
  try {
    for (const s of SETTINGS) settings.push(await startSetting(cluster.urls, s, `chaos_${s}`));
    console.log(
      `random partitions for ${seconds} s (seed ${seed}), ${SETTINGS.join(", ")} at once`,
    );
    let changes = 0;
    const t0 = performance.now();
    const histories = await runWorkload({
      settings,
      clientsPerSetting: 4,
      durationMs: seconds * 1000 + 5_000,
      maxRequests: 2_000_000,
      seed,
      scenario: async () => {
        changes = await randomPartitions(net, seconds * 1000, prng(seed));
      },
      settle: async () => {
        await net.heal();
        await cluster.leader();
      },
    });
    const reports = settings.map((s) => check(s.setting, histories.get(s.setting) ?? [], s.logged));
    console.log(
      formatReports(
        `${changes} partitions in ${Math.round((performance.now() - t0) / 1000)} s`,
        reports,
      ),
    );
    const d = reports.find((r) => r.setting === "default");
    const v = d?.violations;
    failed = !v || v.lostWrites + v.staleReads + v.retiredServed > 0 || (d?.unverified ?? 1) > 0;
    console.log(
      failed ? "the default settings showed violations" : "default settings: no violation",
    );
  } finally {
    for (const s of settings) await s.close();
    await cluster.close();
  }
} finally {
  await net.close();
}
process.exit(failed ? 1 : 0);
