import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createSentinel } from "redis";
import type { RedisClientLike } from "../../src/stores/redis-clients.ts";
import { RedisStore } from "../../src/stores/redisstore.ts";
import { listen } from "../helpers/http.ts";
import { createLoadApp, type FaultRun, formatReport, loadThroughFault } from "../helpers/load.ts";
import { type SentinelSetup, startSentinelSetup } from "../helpers/redis.ts";

/**
 * The demo app on RedisStore through the client's Sentinel support (1 primary, 2 replicas, 3
 * sentinels), under bounded mixed load while the primary is SIGKILLed: every request gets 2xx,
 * 303 or 503, none hangs past its deadline, and service comes back by itself once a replica is
 * promoted. With `waitReplicas: 1` no acknowledged write is lost; without it, the run prints how
 * many were (the README's figure). A write answered 503 may still land (the client had sent
 * it): that is printed ("unexplained gains"), not a failure, since a 503 never claims the
 * write did not happen.
 */

/**
 * Fresh setups killed per test: 1 in `npm test`; `REDIS_FAILOVER_RUNS=5` for the README's
 * figures (each run is a new primary, replicas and sentinels).
 */
const RUNS = Math.max(1, Number(process.env.REDIS_FAILOVER_RUNS ?? 1) || 1);

/** The store's deadline per call; a request makes at most 3 store calls. */
const DEADLINE = 1_000;
const CLIENT_TIMEOUT = 3 * DEADLINE + 2_000;

const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);
const cleanups: (() => Promise<unknown>)[] = [];

before(() => {
  process.on("unhandledRejection", onUnhandled);
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, [], "no unhandled rejection");
});

type ClientKind = "ioredis" | "node-redis";

/** A Sentinel client of `kind` on the setup, as its users configure one. */
async function sentinelClient(kind: ClientKind, setup: SentinelSetup): Promise<RedisClientLike> {
  if (kind === "ioredis") {
    const client = new Redis({ sentinels: [...setup.sentinelAddrs], name: setup.masterName });
    client.on("error", () => {});
    cleanups.push(async () => client.disconnect());
    return client;
  }
  const client = createSentinel({
    name: setup.masterName,
    sentinelRootNodes: [...setup.sentinelAddrs],
    // node-redis's default: it re-sends a command that met the failover once it has found the
    // new primary. The store's writes refuse to land after their deadline, so a re-sent write
    // the store already answered 503 for cannot overwrite a newer one.
  });
  client.on("error", () => {});
  await client.connect();
  cleanups.push(() => client.destroy());
  return client;
}

/** Runs the demo on a fresh setup through a SIGKILL of its primary. @returns the run. */
async function killPrimary(
  kind: ClientKind,
  waitReplicas: number,
): Promise<{ lostWrites: number; unexplainedGains: number; acknowledgedWrites: number }> {
  const total = { lostWrites: 0, unexplainedGains: 0, acknowledgedWrites: 0 };
  for (let i = 0; i < RUNS; i++) {
    const run = await killPrimaryOnce(kind, waitReplicas);
    total.lostWrites += run.report.lostWrites;
    total.unexplainedGains += run.report.unexplainedGains;
    total.acknowledgedWrites += run.report.acknowledgedWrites;
  }
  if (RUNS > 1) {
    console.log(
      `TOTAL over ${RUNS} runs (${kind}, waitReplicas ${waitReplicas}): lost ${total.lostWrites} of ${total.acknowledgedWrites} acknowledged writes`,
    );
  }
  return total;
}

async function killPrimaryOnce(kind: ClientKind, waitReplicas: number): Promise<FaultRun> {
  const setup = await startSentinelSetup({ downAfterMs: 1_000, failoverTimeoutMs: 5_000 });
  cleanups.push(() => setup.stop());
  const client = await sentinelClient(kind, setup);
  const store = new RedisStore(client, { deadline: DEADLINE, waitReplicas });
  let logged = 0;
  const app = createLoadApp({
    store,
    logger: { warn: () => {}, error: () => void logged++ },
  });
  const server = await listen(app.server);
  cleanups.push(() => server.close());
  const oldPrimary = setup.primary.port;
  let promotedAt: number | undefined;
  const t0 = performance.now();
  const run = await loadThroughFault({
    url: server.url,
    clients: 16,
    requestTimeoutMs: CLIENT_TIMEOUT,
    warmupMs: 1_000,
    fault: () => setup.primary.kill(),
    faultMs: 0,
    // Nothing is repaired by hand: the sentinels promote a replica, the client follows.
    repair: async () => {
      await setup.waitForFailover(oldPrimary, 20_000);
      promotedAt = Math.round(performance.now() - t0);
    },
  });
  const label = `${kind} Sentinel, waitReplicas ${waitReplicas}, primary SIGKILL`;
  console.log(formatReport(label, run.report));
  console.log(
    `  killed at ${run.faultAt} ms, replica promoted at ~${promotedAt} ms; first success after the kill at ${run.firstSuccessAfterFault ?? "never"} ms; longest gap without success ${run.longestGap} ms; slowest request from the kill on ${run.slowestDuringFault} ms; errors logged ${logged}`,
  );
  console.log(
    `  LOST ACKNOWLEDGED WRITES (${label}): ${run.report.lostWrites} of ${run.report.acknowledgedWrites}; sessions reset ${run.report.resetsAfterFailure}; writes answered 503 that landed anyway (unexplained gains) ${run.report.unexplainedGains}`,
  );
  for (const outcome of Object.keys(run.report.outcomes)) {
    assert.ok(["200", "303", "503"].includes(outcome), `only 2xx/303/503, got ${outcome}`);
  }
  assert.equal(run.report.timeouts, 0, "no request hung past the deadline and margin");
  assert.ok(run.slowestDuringFault < CLIENT_TIMEOUT);
  assert.notEqual(run.firstSuccessAfterRepair, undefined, "service came back by itself");
  assert.equal(run.report.unverifiedClients, 0, "every client read its counter afterwards");
  return run;
}

describe("the demo on RedisStore through Sentinel while the primary is SIGKILLed", () => {
  it("ioredis, waitReplicas 1: 2xx/503 only, no hang, back after promotion, no acknowledged write lost", async () => {
    const run = await killPrimary("ioredis", 1);
    assert.equal(run.lostWrites, 0, "no acknowledged write lost");
  });

  it("node-redis, waitReplicas 1: 2xx/503 only, no hang, back after promotion, no acknowledged write lost", async () => {
    const run = await killPrimary("node-redis", 1);
    assert.equal(run.lostWrites, 0, "no acknowledged write lost");
  });

  it("ioredis, waitReplicas 0: 2xx/503 only, no hang, back after promotion; lost writes measured", async () => {
    const run = await killPrimary("ioredis", 0);
    // Asynchronous replication: the count is measured and printed, not asserted.
    assert.ok(run.acknowledgedWrites > 0);
  });
});
