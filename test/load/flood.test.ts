import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { floodMargin, formatFlood, runFlood } from "../../scripts/flood.ts";
import { MEMSTORE_ENTRY_OVERHEAD } from "../../src/stores/memstore.ts";

// The short version of `npm run flood` (which sends 2 million requests against the default
// 64 MiB bound): a 2 MiB bound fills after about 5,000 requests, so eviction runs for most of
// the flood. Bounded: at most 40,000 requests and 20 s.
const MAX_BYTES = 2 * 1_048_576;
const MiB = 1_048_576;

describe("a flood of cookieless session-creating requests against the demo on MemStore", () => {
  it("keeps the server's memory bounded, answers every request, and keeps a loyal client signed in", async () => {
    const r = await runFlood({
      requests: 40_000,
      maxSeconds: 20,
      maxBytes: MAX_BYTES,
      connections: 16,
      sampleEveryMs: 250,
      warmup: 2000,
    });
    console.log(formatFlood(r));
    // The demo's session for one visit: ~40 bytes of data and a 43-character token.
    const capacity = Math.floor(MAX_BYTES / (MEMSTORE_ENTRY_OVERHEAD + 43 + 40));

    assert.deepEqual(Object.keys(r.statuses), ["200"], "every flood request answered 200");
    assert.equal(r.errors, 0, "no connection error");
    assert.equal(r.timeouts, 0, "no request timed out (10 s)");

    assert.ok(r.maxStoreBytes <= MAX_BYTES, "the store's count never passed maxBytes");
    assert.ok(r.finalSessions > capacity * 0.9, `the store is full (${r.finalSessions} sessions)`);
    // Every request made a session (and the loyal client's sign-in one); none expired.
    const evicted = r.warmup + r.requests + 1 - r.finalSessions;
    assert.ok(evicted >= capacity, `the store turned over at least once: ${evicted} evicted`);

    const limit = r.baselineRss + MAX_BYTES + floodMargin(MAX_BYTES);
    assert.ok(
      r.maxRss <= limit,
      `RSS at most ${(r.maxRss / MiB).toFixed(1)} MiB, limit ${(limit / MiB).toFixed(1)} MiB`,
    );
    // What the bound really holds: the live heap after a full GC grew by about maxBytes.
    const grown = r.liveAfter - r.liveBefore;
    assert.ok(grown <= MAX_BYTES * 1.5 + 8 * MiB, `live heap grew ${(grown / MiB).toFixed(1)} MiB`);

    assert.deepEqual(r.loyal.failures, [], "the loyal client's every request found its session");
    assert.ok(r.loyal.requests >= 10, `the loyal client made ${r.loyal.requests} requests`);
    assert.ok(r.loyal.signedIn, "the loyal client is still signed in at the end");
  });
});
