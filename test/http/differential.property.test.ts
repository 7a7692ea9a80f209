import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { Mode } from "./compare.ts";
import {
  differentialProperty,
  noteFailures,
  type Pair,
  ProcessWatch,
  params,
  startPair,
} from "./differential.ts";

/**
 * The standard for the session layer: with a session, a handler's response is what it would be
 * without one, plus the session's own headers (Set-Cookie, Vary: Cookie, Cache-Control
 * no-cache="Set-Cookie"), and the handler observes exactly what it would observe on bare
 * node:http — the same throws, return values, headersSent / writableEnded, callbacks. The only
 * difference allowed is a 5xx (an aborted connection once the headers are out) when a store
 * call failed. Random handler programs run on bare node:http and under `sessions.handler`, over
 * real HTTP, with (a) a MemStore, (b) a store answering after 1-5 ms, (c) a store whose commit
 * and delete fail. A failure prints the shrunk program and both runs side by side.
 */

describe("sessions.handler is invisible to the handler (differential, node:http)", () => {
  let pair: Pair;
  let watch: ProcessWatch;
  before(async () => {
    pair = await startPair("node");
    watch = new ProcessWatch();
  });
  after(async () => {
    watch.stop();
    await pair.close();
  });

  it("the bare reference is deterministic: the same program twice on bare node:http", async () => {
    const mode: Mode = { store: "sync", framework: "node", selfCheck: true };
    await fc.assert(
      differentialProperty(
        () => pair,
        mode,
        () => watch,
      ),
      params(100),
    );
  });

  const variants: [string, Mode["store"]][] = [
    ["(a) with a MemStore (synchronous answers)", "sync"],
    ["(b) with a store that answers after 1-5 ms", "slow"],
    ["(c) with a store whose commit and delete fail: 503 before output, abort after", "failing"],
  ];
  for (const [title, store] of variants) {
    it(title, async (t) => {
      const notes = new Map<string, number>();
      try {
        await fc.assert(
          differentialProperty(
            () => pair,
            { store, framework: "node" },
            () => watch,
            noteFailures(notes),
          ),
          params(250),
        );
      } finally {
        for (const [note, count] of notes) t.diagnostic(`session step failed ${count}x: ${note}`);
      }
    });
  }
});
