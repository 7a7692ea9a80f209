/**
 * Shared harness of the rqlite fault tests: a 3-node cluster, the demo apps on it, and what
 * every request during a fault may get and what must hold once the fault is repaired.
 * @module
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { type ReadConsistency, RqliteConnection } from "../../src/stores/rqlite-client.ts";
import { RqliteStore } from "../../src/stores/rqlitestore.ts";
import { listen } from "../helpers/http.ts";
import { createLoadApp, type FaultRun, formatReport } from "../helpers/load.ts";
import { type RqliteCluster, startCluster } from "../helpers/rqlite.ts";

/** The store's overall deadline per call; a request makes at most 3 store calls (find, delete, commit). */
export const DEADLINE = 2_000;
/** The client gives up on a request after this: past it, a request counts as hung. */
export const CLIENT_TIMEOUT = 3 * DEADLINE + 2_000;

/** One demo app on the cluster. */
export interface FaultApp {
  conn: RqliteConnection;
  app: ReturnType<typeof createLoadApp>;
  server: Awaited<ReturnType<typeof listen>>;
}

/** What a fault test file uses; the cluster exists from its `before` on. */
export interface FaultHarness {
  readonly cluster: RqliteCluster;
  readonly logged: { errors: number; kinds: Map<string, number> };
  /** The demo on its own table, with the store's default read consistency unless given. */
  startApp(table: string, readConsistency?: ReadConsistency): Promise<FaultApp>;
  /** Prints the run and asserts what every fault run must show (see {@link assertFaultRun}). */
  check(label: string, run: FaultRun): void;
}

/**
 * Registers, in the calling `describe`, a 3-node cluster started before its tests and torn
 * down after them (resumed, apps closed, nodes killed), and watches for unhandled rejections.
 * @returns the harness.
 */
export function faultHarness(): FaultHarness {
  let cluster: RqliteCluster | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  const logged = { errors: 0, kinds: new Map<string, number>() };
  const apps: FaultApp[] = [];
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
  const started = (): RqliteCluster => {
    assert.ok(cluster, "the cluster starts in before()");
    return cluster;
  };
  return {
    get cluster(): RqliteCluster {
      return started();
    },
    logged,
    async startApp(table, readConsistency) {
      const conn = new RqliteConnection({ nodes: started().urls, deadline: DEADLINE });
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
      const running = { conn, app, server: await listen(app.server) };
      apps.push(running);
      return running;
    },
    check(label, run) {
      assertFaultRun(label, run, { unhandled, logged, clientTimeout: CLIENT_TIMEOUT });
    },
  };
}

/** Context a fault test keeps while its cluster runs. */
export interface FaultContext {
  unhandled: unknown[];
  logged: { errors: number };
  clientTimeout: number;
}

/**
 * Prints the run and asserts: only 2xx/303/503 answers, no request past the client timeout,
 * service back by itself, no acknowledged write lost, no unhandled rejection.
 */
export function assertFaultRun(label: string, run: FaultRun, ctx: FaultContext): void {
  const { report } = run;
  console.log(formatReport(label, report));
  console.log(
    `  fault at ${run.faultAt} ms, repaired at ${run.repairedAt} ms; first success after fault +${(run.firstSuccessAfterFault ?? Number.NaN) - run.faultAt} ms, after repair +${(run.firstSuccessAfterRepair ?? Number.NaN) - run.repairedAt} ms; longest gap without success ${run.longestGap} ms; during fault ${JSON.stringify(run.duringFault)}; slowest request from the fault on ${run.slowestDuringFault} ms; errors logged so far ${ctx.logged.errors}`,
  );
  for (const outcome of Object.keys(report.outcomes)) {
    assert.ok(["200", "303", "503"].includes(outcome), `only 2xx/303/503, got ${outcome}`);
  }
  assert.equal(report.timeouts, 0, "no request hung past the deadline and margin");
  assert.ok(run.slowestDuringFault < ctx.clientTimeout);
  assert.notEqual(run.firstSuccessAfterRepair, undefined, "service came back by itself");
  assert.equal(report.lostWrites, 0, "no acknowledged write lost");
  assert.equal(report.unexplainedGains, 0);
  assert.equal(report.unverifiedClients, 0, "every client read its counter afterwards");
  assert.deepEqual(ctx.unhandled, [], "no unhandled rejection");
}
