import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SessionManager } from "../src/manager.ts";

const sessions = new SessionManager({ store: undefined });

describe("session data methods", () => {
  it("put/get/has/keys (sorted)/remove/clear mark the session modified", async () => {
    const s = await sessions.load(undefined);
    assert.equal(s.status, "unmodified");
    s.put("b", 2);
    s.put("a", "x");
    assert.equal(s.status, "modified");
    assert.deepEqual(s.keys(), ["a", "b"]);
    assert.equal(s.get("a"), "x");
    assert.equal(s.has("b"), true);
    s.remove("b");
    assert.equal(s.has("b"), false);
    s.clear();
    assert.deepEqual(s.keys(), []);
  });

  it("reads that find nothing leave the session unmodified", async () => {
    const s = await sessions.load(undefined);
    assert.equal(s.get("missing"), undefined);
    assert.equal(s.pop("missing"), undefined);
    s.remove("missing");
    s.clear();
    assert.equal(s.status, "unmodified");
  });

  it("typed getters return the zero value on a miss or the wrong type", async () => {
    const s = await sessions.load(undefined);
    s.put("str", 5);
    assert.equal(s.getString("str"), "");
    assert.equal(s.getNumber("nope"), 0);
    assert.equal(s.getBoolean("str"), false);
    assert.equal(s.getBigInt("str"), 0n);
    assert.equal(s.getDate("str").getTime(), 0);
    assert.deepEqual(s.getBytes("str"), new Uint8Array(0));
  });

  it("typed getters return values of the right type", async () => {
    const s = await sessions.load(undefined);
    const when = new Date("2026-01-02T03:04:05Z");
    s.put("s", "text");
    s.put("n", 4.5);
    s.put("b", true);
    s.put("i", 10n ** 30n);
    s.put("d", when);
    s.put("u", new Uint8Array([1, 2]));
    assert.equal(s.getString("s"), "text");
    assert.equal(s.getNumber("n"), 4.5);
    assert.equal(s.getBoolean("b"), true);
    assert.equal(s.getBigInt("i"), 10n ** 30n);
    assert.equal(s.getDate("d"), when);
    assert.deepEqual(s.getBytes("u"), new Uint8Array([1, 2]));
  });

  it("poppers return the value once and remove it; a wrong type is left alone", async () => {
    const s = await sessions.load(undefined);
    s.put("flash", "saved!");
    s.put("n", 3);
    assert.equal(s.popString("flash"), "saved!");
    assert.equal(s.popString("flash"), "");
    assert.equal(s.popString("n"), "");
    assert.equal(s.has("n"), true);
    assert.equal(s.popNumber("n"), 3);
    s.put("b", false);
    assert.equal(s.popBoolean("b"), false);
    assert.equal(s.has("b"), false);
    s.put("d", new Date(5));
    assert.equal(s.popDate("d").getTime(), 5);
    s.put("u", new Uint8Array([9]));
    assert.deepEqual(s.popBytes("u"), new Uint8Array([9]));
  });

  it("a __proto__ key is plain data, never the prototype", async () => {
    const s = await sessions.load(undefined);
    s.put("__proto__", { polluted: true });
    assert.deepEqual(s.get("__proto__"), { polluted: true });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const { token } = await sessions.commit(s);
    const again = await sessions.load(token);
    assert.deepEqual(again.get("__proto__"), { polluted: true });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("setDeadline changes the deadline and refuses an invalid Date", async () => {
    const s = await sessions.load(undefined);
    const d = new Date(Date.now() + 5000);
    s.setDeadline(d);
    assert.equal(s.deadline.getTime(), d.getTime());
    assert.equal(s.status, "modified");
    assert.throws(() => s.setDeadline(new Date(Number.NaN)), TypeError);
  });

  it("rememberMe is kept with the session but hidden from keys()", async () => {
    const s = await sessions.load(undefined);
    s.rememberMe(true);
    assert.deepEqual(s.keys(), []);
    const { token } = await sessions.commit(s);
    assert.equal((await sessions.load(token)).remembered, true);
  });
});
