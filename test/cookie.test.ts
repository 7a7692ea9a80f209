import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  readTokenFromCookieHeader,
  readTokenFromHeader,
  resolveCookieOptions,
  serializeCookie,
} from "../src/cookie.ts";
import { CookieTooLargeError } from "../src/errors.ts";
import { generateToken } from "../src/token.ts";

const token = generateToken();
const other = generateToken();

describe("reading the session cookie", () => {
  it("finds the token among other cookies, with or without spaces", () => {
    assert.equal(readTokenFromCookieHeader(`session=${token}`, "session"), token);
    assert.equal(readTokenFromCookieHeader(`a=1; session=${token}; b=2`, "session"), token);
    assert.equal(readTokenFromCookieHeader(`a=1;session=${token}`, "session"), token);
    assert.equal(readTokenFromCookieHeader(`a=1;  session = ${token} ;b=2`, "session"), token);
  });

  it("accepts a quoted token (RFC 6265 allows DQUOTE around the value)", () => {
    assert.equal(readTokenFromCookieHeader(`session="${token}"`, "session"), token);
  });

  it("does not match a cookie whose name merely ends or starts with the name", () => {
    assert.equal(readTokenFromCookieHeader(`mysession=${token}`, "session"), undefined);
    assert.equal(readTokenFromCookieHeader(`session2=${token}`, "session"), undefined);
    assert.equal(readTokenFromCookieHeader(`x=session=${token}`, "session"), undefined);
  });

  it("with duplicated names takes the first well-formed token", () => {
    assert.equal(readTokenFromCookieHeader(`session=${token}; session=${other}`, "session"), token);
    assert.equal(readTokenFromCookieHeader(`session=garbage; session=${other}`, "session"), other);
  });

  it("treats malformed values as no token and never throws", () => {
    for (const header of [
      "",
      "session",
      "session=",
      "session=;",
      `session=${token.slice(1)}`,
      `session=${token}x`,
      "session=é".repeat(10),
      `session=${"a".repeat(100_000)}`,
      "=;=;=;;;",
      "session=%00%01",
      `session=${token.slice(0, 20)}\u0000${token.slice(21)}`,
    ]) {
      assert.equal(readTokenFromCookieHeader(header, "session"), undefined, header.slice(0, 40));
    }
    assert.equal(readTokenFromCookieHeader(undefined, "session"), undefined);
    assert.equal(readTokenFromCookieHeader([`session=${token}`], "session"), token);
  });

  it("reads a header-transport token, ignoring malformed values", () => {
    assert.equal(readTokenFromHeader(token), token);
    assert.equal(readTokenFromHeader(` ${token} `), token);
    assert.equal(readTokenFromHeader("nope"), undefined);
    assert.equal(readTokenFromHeader(undefined), undefined);
  });
});

describe("cookie options", () => {
  it("default to HttpOnly, SameSite=Lax, Path=/, persistent", () => {
    const opts = resolveCookieOptions();
    assert.equal(opts.name, "session");
    assert.equal(opts.fixedAttributes, "; Path=/; HttpOnly; SameSite=Lax");
    assert.equal(opts.persist, true);
  });

  it("refuse unsafe or malformed values with a TypeError naming the option", () => {
    const cases: [Parameters<typeof resolveCookieOptions>[0], RegExp][] = [
      [{ name: "__Host-id" }, /cookie\.name.*__Host-/],
      [{ name: "__Host-id", secure: true, path: "/app" }, /cookie\.name/],
      [{ name: "__Host-id", secure: true, domain: "example.com" }, /cookie\.name/],
      [{ name: "__Secure-id" }, /cookie\.name/],
      [{ sameSite: "none" }, /cookie\.sameSite.*secure/],
      [{ partitioned: true }, /cookie\.partitioned/],
      [{ name: "bad name" }, /cookie\.name/],
      [{ name: "" }, /cookie\.name/],
      [{ domain: "exa mple.com" }, /cookie\.domain/],
      [{ path: "no-slash" }, /cookie\.path/],
      [{ path: "/a;b" }, /cookie\.path/],
      [{ sameSite: "sometimes" as "lax" }, /cookie\.sameSite/],
      [{ httpOnly: "yes" as unknown as boolean }, /cookie\.httpOnly/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => resolveCookieOptions(options),
        (err: unknown) => {
          assert.ok(err instanceof TypeError);
          assert.match(err.message, message);
          return true;
        },
      );
    }
  });

  it("accept a correct __Host- cookie and SameSite=None with Secure", () => {
    const host = resolveCookieOptions({ name: "__Host-session", secure: true });
    assert.equal(host.fixedAttributes, "; Path=/; HttpOnly; Secure; SameSite=Lax");
    const none = resolveCookieOptions({ sameSite: "none", secure: true, partitioned: true });
    assert.equal(none.fixedAttributes, "; Path=/; HttpOnly; Secure; SameSite=None; Partitioned");
  });
});

describe("building Set-Cookie", () => {
  const opts = resolveCookieOptions({ domain: "example.com" });
  const now = Date.UTC(2026, 0, 1);

  it("persistent cookies carry Max-Age and Expires", () => {
    const value = serializeCookie(opts, token, new Date(now + 3_600_000), true, now);
    assert.equal(
      value,
      `session=${token}; Domain=example.com; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600; Expires=Thu, 01 Jan 2026 01:00:00 GMT`,
    );
  });

  it("browser-session cookies have neither Max-Age nor Expires", () => {
    const value = serializeCookie(opts, token, new Date(now + 3_600_000), false, now);
    assert.doesNotMatch(value, /Max-Age|Expires/);
  });

  it("deletion cookies have Max-Age=0, an Expires in 1970 and an empty value", () => {
    const value = serializeCookie(opts, token, null, true, now);
    assert.match(value, /^session=;/);
    assert.match(value, /Max-Age=0/);
    assert.match(value, /Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
  });

  it("refuses a cookie over 4096 bytes with CookieTooLargeError rather than let browsers drop it", () => {
    const long = resolveCookieOptions({ path: `/${"p".repeat(4100)}` });
    assert.throws(
      () => serializeCookie(long, token, new Date(now + 1000), true, now),
      CookieTooLargeError,
    );
  });
});
