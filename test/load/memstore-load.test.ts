import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MemStore } from "../../src/stores/memstore.ts";
import { listen } from "../helpers/http.ts";
import { createLoadApp, formatReport, inProcessProbe, runLoad } from "../helpers/load.ts";

describe("10 s of mixed traffic from 200 clients on MemStore", () => {
  const store = new MemStore();
  const app = createLoadApp({ store });
  let server: Awaited<ReturnType<typeof listen>>;

  before(async () => {
    server = await listen(app.server);
  });
  after(async () => {
    await server?.close();
    await app.sessions.close();
  });

  it("answers every request without a 5xx and loses no acknowledged write", async () => {
    const probe = inProcessProbe();
    const report = await runLoad({
      url: server.url,
      clients: 200,
      durationMs: 10_000,
      maxRequests: 300_000,
      requestTimeoutMs: 10_000,
      probe: probe.sample,
      sampleEveryMs: 2_000,
    });
    probe.stop();
    console.log(formatReport("memstore 10 s", report));
    console.log(
      `  whole-run event-loop delay p99 ${probe.overallP99()} ms (load and server share the loop)`,
    );
    assert.ok(report.requests > 200, "the load ran");
    assert.ok(report.acknowledgedWrites > 0, "writes were acknowledged");
    assert.equal(report.serverErrors, 0, "no 5xx");
    assert.equal(report.timeouts, 0, "no request hit the client timeout");
    assert.equal(report.outcomes.error, undefined, "no connection error");
    assert.equal(report.lostWrites, 0, "no acknowledged write lost");
    assert.equal(report.unexplainedGains, 0, "no counter moved without a request");
    assert.equal(report.resyncs, 0, "no request had an unknown outcome");
    assert.equal(report.unverifiedClients, 0, "every client verified its counter");
  });
});
