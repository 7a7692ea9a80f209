import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateToken, hashToken, isWellFormedToken } from "../src/token.ts";

describe("tokens", () => {
  it("are 43 base64url characters encoding exactly 32 random bytes", () => {
    for (let i = 0; i < 1000; i++) {
      const token = generateToken();
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);
      const bytes = Buffer.from(token, "base64url");
      assert.equal(bytes.length, 32);
      assert.equal(bytes.toString("base64url"), token);
      assert.ok(isWellFormedToken(token));
    }
  });

  it("never repeat and use every bit (no constant bytes across 20,000 tokens)", () => {
    const seen = new Set<string>();
    const orAll = Buffer.alloc(32);
    const andAll = Buffer.alloc(32, 0xff);
    for (let i = 0; i < 20_000; i++) {
      const token = generateToken();
      assert.ok(!seen.has(token));
      seen.add(token);
      const bytes = Buffer.from(token, "base64url");
      for (let b = 0; b < 32; b++) {
        orAll[b] = (orAll[b] ?? 0) | (bytes[b] ?? 0);
        andAll[b] = (andAll[b] ?? 0) & (bytes[b] ?? 0);
      }
    }
    assert.ok(
      orAll.every((b) => b === 0xff),
      "every bit is set in some token",
    );
    assert.ok(
      andAll.every((b) => b === 0),
      "every bit is clear in some token",
    );
  });

  it("well-formedness rejects wrong lengths, alphabets and impossible last characters", () => {
    const good = generateToken();
    assert.equal(isWellFormedToken(good), true);
    for (const bad of [
      "",
      good.slice(1),
      `${good}A`,
      `${good.slice(0, 42)}B`, // 43rd char must carry only 4 bits
      `${good.slice(0, 10)}+${good.slice(11)}`,
      `${good.slice(0, 10)}/${good.slice(11)}`,
      `${good.slice(0, 10)}=${good.slice(11)}`,
      `${good.slice(0, 10)}é${good.slice(11)}`,
      `"${good.slice(2)}"`,
      " ".repeat(43),
    ]) {
      assert.equal(isWellFormedToken(bad), false, JSON.stringify(bad));
    }
  });

  it("hashToken is SHA-256 in base64url, different from the token", () => {
    const token = generateToken();
    const hashed = hashToken(token);
    assert.match(hashed, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(hashed, token);
    assert.equal(hashToken(token), hashed);
  });
});
