import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { Mode } from "./compare.ts";
import {
  differentialProperty,
  type Pair,
  ProcessWatch,
  params,
  startPair,
} from "./differential.ts";
import type { Framework } from "./servers.ts";

/**
 * The differential test of differential.property.test.ts through the adapters whose response
 * is the raw ServerResponse: the same programs run as an Express route on (req, res) under
 * `app.use(expressSession(sessions))` against bare Express (4 and 5), and as Koa middleware with
 * `ctx.respond = false` on ctx.res under `app.use(koaSession(sessions))` against bare Koa. Both
 * sides route a failing program to the same careful error handler (Express error middleware,
 * Koa try/catch middleware): 500 (503 for StoreUnavailableError), abort, or nothing.
 *
 * Fastify is left out: its adapter commits in onSend, and a program writing on the raw response
 * has to hijack the reply, which skips onSend — there is no session commit to compare.
 */

const frameworks: [string, Framework][] = [
  ["Express 4", "express4"],
  ["Express 5", "express5"],
  ["Koa 3 (ctx.respond = false)", "koa"],
];

for (const [name, framework] of frameworks) {
  describe(`${name}: the session adapter is invisible to a raw-response handler`, () => {
    let pair: Pair;
    let watch: ProcessWatch;
    before(async () => {
      pair = await startPair(framework);
      watch = new ProcessWatch();
    });
    after(async () => {
      watch.stop();
      await pair.close();
    });

    it(`the bare reference is deterministic: the same program twice on bare ${name}`, async () => {
      await fc.assert(
        differentialProperty(
          () => pair,
          { store: "sync", framework, selfCheck: true },
          () => watch,
        ),
        params(40),
      );
    });

    const variants: [string, Mode["store"]][] = [
      ["(a) with a MemStore", "sync"],
      ["(b) with a store that answers after 1-5 ms", "slow"],
      ["(c) with a store whose commit and delete fail", "failing"],
    ];
    for (const [title, store] of variants) {
      it(title, async () => {
        await fc.assert(
          differentialProperty(
            () => pair,
            { store, framework },
            () => watch,
          ),
          params(150),
        );
      });
    }
  });
}
