/**
 * Keys that name Object.prototype members (`__proto__`, `constructor`, `toString`,
 * `hasOwnProperty`) are plain session keys: absent until put, on fresh and loaded sessions.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SessionManager } from "../src/manager.ts";
import type { Session } from "../src/session.ts";
import { MemStore } from "../src/stores/memstore.ts";
import { failOnProcessErrors } from "./helpers/failing-stores.ts";

failOnProcessErrors();

const inherited = ["__proto__", "constructor", "toString", "hasOwnProperty"] as const;

/** Each inherited name mapped to what `read` gives for it. */
function readAll(session: Session, read: (session: Session, key: string) => unknown) {
  return Object.fromEntries(inherited.map((key) => [key, read(session, key)]));
}

const each = (value: unknown) => Object.fromEntries(inherited.map((key) => [key, value]));

const manager = () => new SessionManager({ store: new MemStore({ cleanupInterval: 0 }) });

const kinds = [
  { name: "a fresh session", session: () => manager().load(undefined) },
  {
    name: "a loaded session",
    session: async () => {
      const sessions = manager();
      const seed = await sessions.load(undefined);
      seed.put("user", "alice");
      const loaded = await sessions.load((await sessions.commit(seed)).token);
      assert.equal(loaded.get("user"), "alice", "the loaded session is the committed one");
      return loaded;
    },
  },
];

describe("session keys named like Object.prototype members", () => {
  for (const kind of kinds) {
    it(`get returns undefined for __proto__, constructor, toString and hasOwnProperty on ${kind.name}`, async () => {
      const session = await kind.session();
      assert.deepEqual(
        readAll(session, (s, k) => s.get(k)),
        each(undefined),
      );
    });

    it(`has is false for __proto__, constructor, toString and hasOwnProperty on ${kind.name}`, async () => {
      const session = await kind.session();
      assert.deepEqual(
        readAll(session, (s, k) => s.has(k)),
        each(false),
      );
    });

    it(`getString and getNumber give their zero values for those names on ${kind.name}`, async () => {
      const session = await kind.session();
      assert.deepEqual(
        {
          strings: readAll(session, (s, k) => s.getString(k)),
          numbers: readAll(session, (s, k) => s.getNumber(k)),
        },
        { strings: each(""), numbers: each(0) },
      );
    });
  }

  it('put("constructor", "x") is read back as "x" and round-trips through a commit and load', async () => {
    const sessions = manager();
    const session = await sessions.load(undefined);
    session.put("constructor", "x");
    assert.deepEqual(
      { get: session.get("constructor"), has: session.has("constructor") },
      { get: "x", has: true },
    );
    const loaded = await sessions.load((await sessions.commit(session)).token);
    assert.deepEqual(
      { get: loaded.get("constructor"), keys: loaded.keys() },
      { get: "x", keys: ["constructor"] },
    );
  });
});
