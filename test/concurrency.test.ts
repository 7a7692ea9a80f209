import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import { SessionConflictError } from "../src/errors.ts";
import { SessionManager } from "../src/manager.ts";
import type { SessionManagerOptions } from "../src/options.ts";
import { MemStore } from "../src/stores/memstore.ts";
import { listen, request } from "./helpers/http.ts";

/**
 * Two overlapping requests on one session: /slow loads, waits until /fast has committed, then
 * writes its own key. Returns what the stored session holds afterwards.
 */
async function overlap(options: SessionManagerOptions) {
  const store = new MemStore({ cleanupInterval: 0 });
  const errors: unknown[] = [];
  const sessions = new SessionManager({
    store,
    onError: (err, _req, res) => {
      errors.push(err);
      res.statusCode = err instanceof SessionConflictError ? 409 : 500;
      res.end();
    },
    ...options,
  });
  let fastDone!: () => void;
  const fastCommitted = new Promise<void>((resolve) => {
    fastDone = resolve;
  });
  const server = createServer(
    sessions.handler(async (req, res) => {
      const session = sessions.from(req);
      if (req.url === "/slow") {
        await fastCommitted;
        session.put("slow", "set by slow");
        session.remove("gone");
        res.end("slow");
      } else if (req.url === "/fast") {
        session.put("fast", "set by fast");
        res.on("finish", () => setImmediate(fastDone));
        res.end("fast");
      } else if (req.url === "/signout") {
        await session.destroy();
        res.on("finish", () => setImmediate(fastDone));
        res.end("bye");
      } else {
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify(Object.fromEntries(session.keys().map((k) => [k, session.get(k)]))));
      }
    }),
  );
  const { url, close } = await listen(server);
  const seed = await sessions.load(undefined);
  seed.put("gone", "removed by slow");
  seed.put("base", 1);
  const { token } = await sessions.commit(seed);
  const cookie = `session=${token}`;
  return {
    run: async (second: "/fast" | "/signout") => {
      const slow = request(`${url}/slow`, { headers: { cookie } });
      await new Promise((r) => setTimeout(r, 20)); // /slow has loaded the session
      const fast = await request(`${url}${second}`, { headers: { cookie } });
      const slowRes = await slow;
      const final = await request(`${url}/read`, { headers: { cookie } });
      await close();
      return {
        fast,
        slow: slowRes,
        final: JSON.parse(final.body) as Record<string, unknown>,
        errors,
      };
    },
  };
}

describe("concurrent requests on one session", () => {
  it("last-write-wins (the default, as SCS): the later commit drops the earlier one's change", async () => {
    const { slow, final } = await (await overlap({})).run("/fast");
    assert.equal(slow.status, 200);
    assert.deepEqual(final, { base: 1, slow: "set by slow" });
  });

  it('concurrency "merge": both requests\' changes survive, removals included', async () => {
    const { slow, final } = await (await overlap({ concurrency: "merge" })).run("/fast");
    assert.equal(slow.status, 200);
    assert.deepEqual(final, { base: 1, fast: "set by fast", slow: "set by slow" });
  });

  it('concurrency "reject": the later commit fails with SessionConflictError and changes nothing', async () => {
    const { slow, final, errors } = await (await overlap({ concurrency: "reject" })).run("/fast");
    assert.equal(slow.status, 409);
    assert.deepEqual(slow.setCookies, []);
    assert.ok(errors[0] instanceof SessionConflictError);
    assert.deepEqual(final, { base: 1, fast: "set by fast", gone: "removed by slow" });
  });

  it('concurrency "merge": a session destroyed meanwhile (sign-out) stays destroyed, and the late response sends no cookie', async () => {
    const { slow, final } = await (await overlap({ concurrency: "merge" })).run("/signout");
    assert.equal(slow.status, 200);
    // The sign-out already cleared the cookie; a late deletion cookie could clear a newer token.
    assert.deepEqual(slow.setCookies, []);
    assert.deepEqual(final, {});
  });

  it("without overlap, merge and reject commit like last-write-wins", async () => {
    for (const concurrency of ["merge", "reject"] as const) {
      const sessions = new SessionManager({ concurrency });
      const s = await sessions.load(undefined);
      s.put("n", 1);
      const { token } = await sessions.commit(s);
      const again = await sessions.load(token);
      again.put("n", 2);
      await sessions.commit(again);
      again.put("n", 3);
      await sessions.commit(again); // its own earlier commit is no conflict
      assert.equal((await sessions.load(token)).get("n"), 3);
    }
  });
});
