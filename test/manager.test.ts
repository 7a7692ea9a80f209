import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NotIterableError } from "../src/errors.ts";
import { SessionManager } from "../src/manager.ts";
import { MemStore } from "../src/stores/memstore.ts";
import { generateToken, hashToken } from "../src/token.ts";
import { RecordingStore } from "./helpers/stores.ts";

/** A clock tests move by hand. */
function fakeClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function setup(options: ConstructorParameters<typeof SessionManager>[0] = {}) {
  const clock = fakeClock();
  const store = new RecordingStore({ cleanupInterval: 0, now: clock.now });
  const sessions = new SessionManager({ store, now: clock.now, ...options });
  return { clock, store, sessions };
}

describe("SessionManager.load", () => {
  it("gives a fresh session for an absent token", async () => {
    const { sessions } = setup();
    const s = await sessions.load(undefined);
    assert.equal(s.token, "");
    assert.equal(s.status, "unmodified");
    assert.deepEqual(s.keys(), []);
  });

  it("never adopts a client-chosen token: an unknown one gets a fresh session and a new token", async () => {
    const { sessions } = setup();
    const chosen = generateToken();
    const s = await sessions.load(chosen);
    assert.equal(s.token, "");
    s.put("x", 1);
    const { token } = await sessions.commit(s);
    assert.notEqual(token, chosen);
  });

  it("never passes a malformed token to the store", async () => {
    const { sessions, store } = setup();
    for (const bad of [
      "",
      "short",
      "x".repeat(43),
      `${generateToken()}=`,
      "'; DROP TABLE sessions; --",
    ]) {
      const s = await sessions.load(bad);
      assert.equal(s.token, "");
    }
    assert.deepEqual(store.finds, []);
  });

  it("loads what was committed", async () => {
    const { sessions } = setup();
    const s = await sessions.load(undefined);
    s.put("user", "ada");
    const { token } = await sessions.commit(s);
    const again = await sessions.load(token);
    assert.equal(again.token, token);
    assert.equal(again.get("user"), "ada");
    assert.equal(again.status, "unmodified");
  });

  it("expires a session at its absolute lifetime, however active", async () => {
    const { sessions, clock } = setup({ lifetime: 10_000 });
    const s = await sessions.load(undefined);
    s.put("n", 1);
    const { token, expiry } = await sessions.commit(s);
    assert.equal(expiry.getTime(), clock.now() + 10_000);
    clock.advance(9_999);
    const active = await sessions.load(token);
    assert.equal(active.get("n"), 1);
    active.put("n", 2);
    await sessions.commit(active);
    clock.advance(1);
    assert.equal((await sessions.load(token)).token, "");
  });

  it("with an idle timeout, commits expire at min(deadline, now + idleTimeout) and activity extends them", async () => {
    const { sessions, clock } = setup({ lifetime: 60_000, idleTimeout: 10_000 });
    const s = await sessions.load(undefined);
    s.put("n", 1);
    const first = await sessions.commit(s);
    assert.equal(first.expiry.getTime(), clock.now() + 10_000);
    clock.advance(8_000);
    const loaded = await sessions.load(first.token);
    assert.equal(loaded.status, "modified", "every loaded session is re-committed");
    await sessions.commit(loaded);
    clock.advance(8_000); // 16 s after creation: alive only because of the activity
    const again = await sessions.load(first.token);
    assert.equal(again.get("n"), 1);
    const near = await sessions.commit(again);
    for (let t = 16_000; t < 56_000; t += 8_000) {
      clock.advance(8_000); // keep it active up to 56 s
      await sessions.commit(await sessions.load(first.token));
    }
    // at 56 s, min(deadline 60 s, now + 10 s) caps the expiry at the deadline
    const capped = await sessions.commit(await sessions.load(first.token));
    assert.equal(capped.expiry.getTime(), Date.UTC(2026, 0, 1) + 60_000);
    assert.ok(near.expiry.getTime() < capped.expiry.getTime());
    clock.advance(4_000);
    assert.equal((await sessions.load(first.token)).token, "");
  });

  it("an idle session expires after the idle timeout", async () => {
    const { sessions, clock } = setup({ idleTimeout: 10_000 });
    const s = await sessions.load(undefined);
    s.put("n", 1);
    const { token } = await sessions.commit(s);
    clock.advance(10_001);
    assert.equal((await sessions.load(token)).token, "");
  });

  it("stored bytes that do not decode give a fresh session, are deleted and are logged once without the token", async () => {
    const warnings: string[] = [];
    const logger = {
      warn: (m: string) => warnings.push(m),
      error: (m: string) => warnings.push(m),
    };
    const { sessions, store, clock } = setup({ logger });
    const token = generateToken();
    store.commit(token, new Uint8Array([0xde, 0xad, 0xbe, 0xef]), new Date(clock.now() + 60_000));
    const s = await sessions.load(token);
    assert.equal(s.token, "");
    assert.equal(store.find(token), undefined, "the corrupt row is deleted");
    assert.equal(warnings.length, 1);
    assert.ok(!warnings[0]?.includes(token));
    await sessions.load(token);
    assert.equal(warnings.length, 1, "told once: the row is gone");
  });
});

describe("destroy, renewToken, mergeSession", () => {
  it("destroy deletes the session from the store and a later put starts a fresh one", async () => {
    const { sessions } = setup();
    const s = await sessions.load(undefined);
    s.put("user", "ada");
    const { token } = await sessions.commit(s);
    const loaded = await sessions.load(token);
    await loaded.destroy();
    assert.equal(loaded.status, "destroyed");
    assert.equal(loaded.token, "");
    assert.equal((await sessions.load(token)).token, "");
    loaded.put("again", true);
    const fresh = await sessions.commit(loaded);
    assert.notEqual(fresh.token, token);
    assert.deepEqual((await sessions.load(fresh.token)).keys(), ["again"]);
  });

  it("renewToken gives a new token, deletes the old one and resets the deadline", async () => {
    const { sessions, clock } = setup({ lifetime: 10_000 });
    const s = await sessions.load(undefined);
    s.put("user", "ada");
    const { token: old } = await sessions.commit(s);
    clock.advance(5_000);
    const loaded = await sessions.load(old);
    await loaded.renewToken();
    assert.notEqual(loaded.token, old);
    assert.equal(loaded.deadline.getTime(), clock.now() + 10_000);
    const { token } = await sessions.commit(loaded);
    assert.equal(token, loaded.token);
    assert.equal((await sessions.load(old)).token, "", "the old token is dead");
    assert.equal((await sessions.load(token)).get("user"), "ada");
  });

  it("renewToken keeps the old token alive when the commit under the new one fails", async () => {
    const inner = new MemStore({ cleanupInterval: 0 });
    let failCommits = false;
    const store = {
      find: (t: string) => inner.find(t),
      delete: (t: string) => inner.delete(t),
      commit: (t: string, d: Uint8Array, e: Date) => {
        if (failCommits) throw new Error("store down");
        inner.commit(t, d, e);
      },
    };
    const sessions = new SessionManager({ store });
    const s = await sessions.load(undefined);
    s.put("user", "ada");
    const { token: old } = await sessions.commit(s);
    const loaded = await sessions.load(old);
    await loaded.renewToken();
    loaded.remove("user"); // a sign-out
    failCommits = true;
    await assert.rejects(async () => sessions.commit(loaded));
    assert.equal(
      (await sessions.load(old)).get("user"),
      "ada",
      "a failed sign-out signs nobody out",
    );
    failCommits = false;
    const { token } = await sessions.commit(loaded);
    assert.notEqual(token, old);
    assert.equal((await sessions.load(old)).token, "", "the old token dies with the commit");
  });

  it("mergeSession copies the other session's values and deletes it", async () => {
    const { sessions } = setup();
    const a = await sessions.load(undefined);
    a.put("cart", ["book"]);
    a.put("shared", "from-a");
    const { token: tokenA } = await sessions.commit(a);
    const b = await sessions.load(undefined);
    b.put("user", "ada");
    b.put("shared", "from-b");
    await sessions.commit(b);
    await b.mergeSession(tokenA);
    assert.deepEqual(b.get("cart"), ["book"]);
    assert.equal(b.get("shared"), "from-a");
    assert.equal(b.get("user"), "ada");
    assert.equal((await sessions.load(tokenA)).token, "");
  });

  it("mergeSession with an unknown, malformed or own token does nothing", async () => {
    const { sessions } = setup();
    const s = await sessions.load(undefined);
    s.put("k", 1);
    const { token } = await sessions.commit(s);
    const loaded = await sessions.load(token);
    await loaded.mergeSession(generateToken());
    await loaded.mergeSession("garbage");
    await loaded.mergeSession(token);
    assert.equal(loaded.status, "unmodified");
  });
});

describe("rememberMe and persistence", () => {
  it("with persist false, the cookie is a browser-session cookie unless rememberMe(true)", async () => {
    const { sessions } = setup({ cookie: { persist: false } });
    const s = await sessions.load(undefined);
    s.put("k", 1);
    const { token, expiry } = await sessions.commit(s);
    assert.doesNotMatch(sessions.cookieHeader(token, expiry, s), /Expires|Max-Age/);
    s.rememberMe(true);
    assert.match(sessions.cookieHeader(token, expiry, s), /Max-Age=86400; Expires=/);
    const reloaded = await sessions.load((await sessions.commit(s)).token);
    assert.match(sessions.cookieHeader(token, expiry, reloaded), /Max-Age/);
  });
});

describe("hashTokenInStore", () => {
  it("stores SHA-256(token) and never the token itself", async () => {
    const { sessions, store } = setup({ hashTokenInStore: true });
    const s = await sessions.load(undefined);
    s.put("user", "ada");
    const { token } = await sessions.commit(s);
    const keys = [...store.all().keys()];
    assert.deepEqual(keys, [hashToken(token)]);
    assert.equal((await sessions.load(token)).get("user"), "ada");
    assert.equal((await sessions.load(hashToken(token))).token, "", "the stored key is no token");
  });
});

describe("iterate", () => {
  it("visits every active session and commits what fn changed", async () => {
    const { sessions, clock } = setup({ lifetime: 10_000 });
    for (const user of ["a", "b", "c"]) {
      const s = await sessions.load(undefined);
      s.put("user", user);
      await sessions.commit(s);
    }
    clock.advance(1);
    const seen: string[] = [];
    await sessions.iterate((s) => {
      seen.push(s.getString("user"));
      s.put("seen", true);
    });
    assert.deepEqual(seen.sort(), ["a", "b", "c"]);
    await sessions.iterate((s) => assert.equal(s.getBoolean("seen"), true));
  });

  it("with hashTokenInStore can destroy the sessions it visits", async () => {
    const { sessions, store } = setup({ hashTokenInStore: true });
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await sessions.load(undefined);
      s.put("i", i);
      tokens.push((await sessions.commit(s)).token);
    }
    await sessions.iterate(async (s) => {
      if (s.getNumber("i") !== 1) await s.destroy();
    });
    assert.equal(store.size, 1);
    assert.equal((await sessions.load(tokens[1])).getNumber("i"), 1);
    assert.equal((await sessions.load(tokens[0])).token, "");
  });

  it("rejects clearly when the store is not iterable", async () => {
    const inner = new MemStore({ cleanupInterval: 0 });
    const plain = {
      find: (t: string) => inner.find(t),
      commit: (t: string, d: Uint8Array, e: Date) => inner.commit(t, d, e),
      delete: (t: string) => inner.delete(t),
    };
    const sessions = new SessionManager({ store: plain });
    await assert.rejects(
      sessions.iterate(() => {}),
      NotIterableError,
    );
  });
});

describe("options", () => {
  it("bad options throw a TypeError naming the option", () => {
    const cases: [ConstructorParameters<typeof SessionManager>[0], RegExp][] = [
      [{ lifetime: 0 }, /lifetime/],
      [{ lifetime: -5 }, /lifetime/],
      [{ lifetime: Number.NaN }, /lifetime/],
      [{ idleTimeout: -1 }, /idleTimeout/],
      [{ concurrency: "yolo" as "merge" }, /concurrency/],
      [{ cookie: { sameSite: "none" } }, /sameSite/],
      [{ cookie: { name: "__Host-s" } }, /__Host-/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => new SessionManager(options),
        (err: unknown) => {
          assert.ok(err instanceof TypeError);
          assert.match(err.message, message);
          return true;
        },
      );
    }
  });

  it("the default store is a MemStore", () => {
    assert.ok(new SessionManager().store instanceof MemStore);
  });
});
