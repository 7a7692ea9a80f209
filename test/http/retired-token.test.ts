/**
 * A retired token stays dead: a request that loaded a session before another request renewed
 * its token (sign-in) or destroyed it (sign-out) must not write the old token back to the
 * store, hand it back to the client, or clear the cookie the other request just set. In every
 * concurrency mode, with a synchronous store and an async one.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import { SessionManager } from "../../src/manager.ts";
import type { SessionManagerOptions } from "../../src/options.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { failOnProcessErrors, holds } from "../helpers/failing-stores.ts";
import { cookieToken, listen, request, type TestResponse } from "../helpers/http.ts";
import { SlowStore } from "../helpers/stores.ts";

const processErrors = failOnProcessErrors();
const quiet = { warn() {}, error() {} };
const T = { timeout: 5_000 };

const speeds = [
  { name: "MemStore", store: (): Store => new MemStore({ cleanupInterval: 0 }) },
  { name: "an async store", store: (): Store => new SlowStore(5) },
];
const modes = ["last-write-wins", "merge", "reject"] as const;
const lateRequests = [
  { name: "puts a value", idleTimeout: 0, put: true },
  { name: "is untouched but idleTimeout commits it", idleTimeout: 3_600_000, put: false },
];

const sessionCookies = (res: TestResponse) =>
  res.setCookies.filter((c) => c.startsWith("session="));

/**
 * Request A loads the session under OLD and waits; request B, on the same cookie, signs in
 * (renewToken) or signs out (destroy) and completes; then A finishes. Returns what each saw.
 */
async function overlap(
  store: Store,
  options: SessionManagerOptions,
  late: { put: boolean },
  second: "sign-in" | "sign-out",
) {
  const sessions = new SessionManager({ store, logger: quiet, ...options });
  let loadedA!: () => void;
  const aLoaded = new Promise<void>((resolve) => {
    loadedA = resolve;
  });
  let releaseA!: () => void;
  const aReleased = new Promise<void>((resolve) => {
    releaseA = resolve;
  });
  const server = createServer(
    sessions.handler(async (req, res) => {
      const session = sessions.from(req);
      if (req.url === "/a") {
        loadedA();
        await aReleased;
        if (late.put) session.put("cart", "from A");
        res.end("a");
      } else if (req.url === "/sign-in") {
        await session.renewToken();
        session.put("user", "alice, signed in");
        res.end("signed in");
      } else if (req.url === "/sign-out") {
        await session.destroy();
        res.end("signed out");
      } else {
        res.end(session.getString("user"));
      }
    }),
  );
  const app = await listen(server);
  try {
    const seed = await sessions.load(undefined);
    seed.put("user", "alice");
    const old = (await sessions.commit(seed)).token;
    const cookie = `session=${old}`;
    const a = processErrors.race(request(`${app.url}/a`, { headers: { cookie } }));
    await aLoaded;
    const b = await processErrors.race(request(`${app.url}/${second}`, { headers: { cookie } }));
    const afterB = { oldHeld: holds(store, old), renewed: cookieToken(b) };
    releaseA();
    const aRes = await a;
    const renewed = afterB.renewed;
    const viaNew =
      renewed === undefined || renewed === ""
        ? undefined
        : (await request(`${app.url}/get`, { headers: { cookie: `session=${renewed}` } })).body;
    return { old, b, afterB, aRes, oldHeldAfterA: holds(store, old), viaNew };
  } finally {
    await app.close();
  }
}

describe("a retired token stays dead", () => {
  for (const speed of speeds) {
    for (const concurrency of modes) {
      for (const late of lateRequests) {
        const where = `${concurrency}, the late request ${late.name}, ${speed.name}`;

        it(
          `a request that loaded the session before a sign-in renewed its token does not bring the old token back nor sign the user out (${where})`,
          T,
          async () => {
            const { old, afterB, aRes, oldHeldAfterA, viaNew } = await overlap(
              speed.store(),
              { concurrency, idleTimeout: late.idleTimeout },
              late,
              "sign-in",
            );
            assert.ok(afterB.renewed && afterB.renewed !== old, "the sign-in got a new token");
            assert.equal(afterB.oldHeld, false, "the sign-in retired the old token");
            const cookies = sessionCookies(aRes);
            assert.deepEqual(
              {
                oldHeldAfterA,
                oldTokenHandedBack: cookies.some((c) => c.startsWith(`session=${old};`)),
                deletionCookie: cookies.some((c) => c.startsWith("session=;")),
                newTokenWorks: viaNew,
              },
              {
                oldHeldAfterA: false,
                oldTokenHandedBack: false,
                deletionCookie: false,
                newTokenWorks: "alice, signed in",
              },
            );
            if (concurrency !== "reject") assert.equal(aRes.status, 200);
          },
        );

        it(
          `a request that loaded the session before a sign-out destroyed it does not hand the token back (${where})`,
          T,
          async () => {
            const { old, afterB, aRes, oldHeldAfterA } = await overlap(
              speed.store(),
              { concurrency, idleTimeout: late.idleTimeout },
              late,
              "sign-out",
            );
            assert.equal(afterB.oldHeld, false, "the sign-out deleted the session");
            assert.deepEqual(
              {
                oldHeldAfterA,
                oldTokenHandedBack: sessionCookies(aRes).some((c) =>
                  c.startsWith(`session=${old};`),
                ),
              },
              { oldHeldAfterA: false, oldTokenHandedBack: false },
            );
          },
        );
      }
    }
  }
});
