import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RqliteConnection } from "../../src/stores/rqlite-client.ts";
import { RqliteStore } from "../../src/stores/rqlitestore.ts";
import { listen } from "../helpers/http.ts";
import { createLoadApp, formatReport, inProcessProbe, runLoad } from "../helpers/load.ts";
import { type RqliteCluster, startCluster } from "../helpers/rqlite.ts";

describe("10 s of mixed traffic from 200 clients on a 3-node rqlite cluster", () => {
  let cluster: RqliteCluster;
  let app: ReturnType<typeof createLoadApp>;
  let server: Awaited<ReturnType<typeof listen>>;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);

  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    cluster = await startCluster(3);
    const conn = new RqliteConnection({ nodes: cluster.urls, deadline: 5_000 });
    app = createLoadApp({ store: new RqliteStore(conn, { cleanupInterval: 0 }) });
    server = await listen(app.server);
  });
  after(async () => {
    await server?.close();
    await app?.sessions.close();
    await cluster?.close();
    process.off("unhandledRejection", onUnhandled);
  });

  it("loses no acknowledged write and answers every request", async () => {
    const probe = inProcessProbe();
    const report = await runLoad({
      url: server.url,
      clients: 200,
      durationMs: 10_000,
      maxRequests: 200_000,
      requestTimeoutMs: 15_000,
      probe: probe.sample,
      sampleEveryMs: 2_000,
    });
    probe.stop();
    console.log(formatReport("rqlite 3 nodes 10 s", report));
    assert.ok(report.acknowledgedWrites > 0, "writes were acknowledged");
    assert.equal(report.lostWrites, 0, "no acknowledged write lost");
    assert.equal(report.unexplainedGains, 0, "no counter moved without a request");
    assert.equal(report.timeouts, 0, "no request hit the client timeout");
    assert.equal(report.outcomes.error, undefined, "no connection error");
    assert.equal(report.serverErrors, 0, "no 5xx with every node up");
    assert.equal(report.unverifiedClients, 0, "every client verified its counter");
    assert.deepEqual(unhandled, [], "no unhandled rejection");
  });
});
