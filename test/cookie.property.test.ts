import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import fc from "fast-check";
import { readTokenFromCookieHeader, readTokenFromHeader } from "../src/cookie.ts";

/** Fixed seed so CI is repeatable; FUZZ=1 (npm run fuzz) runs far more cases. */
const FUZZ = process.env.FUZZ === "1";
const params = <T>(runs: number): fc.Parameters<T> => ({
  seed: 42,
  numRuns: FUZZ ? runs * 50 : runs,
});

/** What a token issued by the library looks like: 32 bytes as base64url, 43 characters. */
const WELL_FORMED = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

const token = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => Buffer.from(b).toString("base64url"));

const cookieName = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);

/** Pieces a hostile header is made of: any unicode, cookie syntax, real tokens, near-tokens. */
const piece = (name: string) =>
  fc.oneof(
    fc.string({ unit: "binary", maxLength: 12 }),
    fc.string({ unit: "grapheme", maxLength: 8 }),
    fc.constantFrom(";", "=", '"', " ", "\t", ",", "; ", `${name}=`, ` ${name} = `, name, "\u0000"),
    token,
    token.map((t) => `${name}=${t}`),
    token.map((t) => `"${t}"`),
    token.map((t) => t.slice(0, 42)),
    token.map((t) => `${t}x`),
  );

const hostileHeader = (name: string) =>
  fc.array(piece(name), { maxLength: 24 }).map((parts) => parts.join(""));

/** A cookie-pair that is not the session cookie: its text never contains the name or `;`. */
const otherPair = (name: string) =>
  fc
    .tuple(cookieName, fc.string({ unit: "binary", maxLength: 16 }))
    .map(([n, v]) => `${n}=${v}`)
    .filter((pair) => !pair.includes(name) && !pair.includes(";"));

function checkResult(result: string | undefined): void {
  if (result !== undefined) assert.match(result, WELL_FORMED);
}

describe("cookie parsing of arbitrary headers", () => {
  it("never throws and yields only a well-formed token or nothing", () => {
    fc.assert(
      fc.property(
        cookieName.chain((name) => fc.tuple(fc.constant(name), hostileHeader(name))),
        ([name, header]) => {
          checkResult(readTokenFromCookieHeader(header, name));
          checkResult(readTokenFromCookieHeader([header, header], name));
        },
      ),
      params(4000),
    );
  });

  it("yields only a token that appears in the header", () => {
    fc.assert(
      fc.property(hostileHeader("session"), (header) => {
        const found = readTokenFromCookieHeader(header, "session");
        if (found !== undefined) assert.ok(header.includes(found));
      }),
      params(3000),
    );
  });

  it("finds a well-formed name=token pair among any other cookie-pairs", () => {
    fc.assert(
      fc.property(
        cookieName.chain((name) =>
          fc.tuple(
            fc.constant(name),
            token,
            fc.array(otherPair(name), { maxLength: 8 }),
            fc.array(otherPair(name), { maxLength: 8 }),
            fc.constantFrom(";", "; ", " ;  ", ";\t"),
          ),
        ),
        ([name, t, before, afterPairs, sep]) => {
          const header = [...before, `${name}=${t}`, ...afterPairs].join(sep);
          assert.equal(readTokenFromCookieHeader(header, name), t);
          assert.equal(readTokenFromCookieHeader(["a=b", header], name), t);
        },
      ),
      params(3000),
    );
  });

  it("with the name repeated, the first well-formed token wins and junk values are skipped", () => {
    fc.assert(
      fc.property(
        token,
        token,
        fc.array(fc.string({ unit: "binary", maxLength: 50 }), { maxLength: 4 }),
        (first, second, junk) => {
          const junkPairs = junk
            .filter((v) => !v.includes(";") && !WELL_FORMED.test(v.trim()))
            .map((v) => `session=${v}`);
          const header = [...junkPairs, `session=${first}`, `session=${second}`].join("; ");
          assert.equal(readTokenFromCookieHeader(header, "session"), first);
        },
      ),
      params(2000),
    );
  });

  it("a quoted token is found, a half-quoted one is not", () => {
    fc.assert(
      fc.property(token, (t) => {
        assert.equal(readTokenFromCookieHeader(`session="${t}"`, "session"), t);
        assert.equal(readTokenFromCookieHeader(`session="${t}`, "session"), undefined);
        assert.equal(readTokenFromCookieHeader(`session=${t}"`, "session"), undefined);
      }),
      params(500),
    );
  });

  it("a token only in a longer cookie name or inside another value is not found", () => {
    fc.assert(
      fc.property(token, cookieName, (t, prefix) => {
        assert.equal(readTokenFromCookieHeader(`${prefix}session=${t}`, "session"), undefined);
        assert.equal(readTokenFromCookieHeader(`a=session=${t}`, "session"), undefined);
        assert.equal(readTokenFromCookieHeader(`sessionx=${t}`, "session"), undefined);
      }),
      params(1000),
    );
  });
});

describe("token header parsing of arbitrary values", () => {
  it("never throws and yields only a well-formed token or nothing", () => {
    fc.assert(
      fc.property(
        fc.oneof(hostileHeader("session"), fc.string({ unit: "binary" })),
        fc.array(fc.string({ unit: "binary", maxLength: 60 }), { maxLength: 3 }),
        (value, list) => {
          checkResult(readTokenFromHeader(value));
          checkResult(readTokenFromHeader(list));
        },
      ),
      params(4000),
    );
  });

  it("finds a token with surrounding spaces, alone or first in a list", () => {
    fc.assert(
      fc.property(
        token,
        fc.stringMatching(/^[ \t]{0,3}$/),
        fc.stringMatching(/^[ \t]{0,3}$/),
        (t, l, r) => {
          assert.equal(readTokenFromHeader(`${l}${t}${r}`), t);
          assert.equal(readTokenFromHeader([`${l}${t}${r}`, "junk"]), t);
          assert.equal(readTokenFromHeader(`${t},${t}`), undefined);
        },
      ),
      params(1000),
    );
  });
});
