import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import { StoreUnavailableError } from "../../src/errors.ts";
import { parseAnswer } from "../../src/stores/rqlite-answer.ts";
import { RqliteConnection } from "../../src/stores/rqlite-client.ts";
import { RqliteAuthError, RqliteError } from "../../src/stores/rqlite-errors.ts";
import { freePort, type RqliteCluster, startNode } from "../helpers/rqlite.ts";
import { startTrickleProxy } from "../helpers/trickle-proxy.ts";

const USER = "app";
const PASSWORD = "s3cret-Pa55w0rd";
const WRONG = "wr0ng-Pa55w0rd";
const basic = (user: string, pass: string) => Buffer.from(`${user}:${pass}`).toString("base64");

/**
 * Everything an error shows, however it is logged: message, stack, own properties and the
 * whole `cause` chain undici attaches (util.inspect follows `cause` and nested objects).
 */
function assertNoCredentials(err: unknown, passwords: string[] = [PASSWORD]): void {
  const seen = [inspect(err, { depth: Number.POSITIVE_INFINITY })];
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    seen.push(String(e.message), String(e.stack));
  const text = seen.join("\n");
  for (const pass of passwords) {
    assert.ok(!text.includes(pass), `the password is shown:\n${text}`);
    assert.ok(!text.includes(`${USER}:${pass}`), `user:password is shown:\n${text}`);
    assert.ok(!text.includes(basic(USER, pass)), `the Authorization header is shown:\n${text}`);
  }
  assert.doesNotMatch(text, /authorization|Basic [A-Za-z0-9+/]{8}/i, text);
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  assert.fail("did not throw");
}

let secured: RqliteCluster;
let url: string;
const withCredentials = (u: string, pass = PASSWORD) =>
  u.replace("http://", `http://${USER}:${encodeURIComponent(pass)}@`);

before(async () => {
  secured = await startNode({ auth: [{ username: USER, password: PASSWORD }] });
  url = secured.urls[0] as string;
});
after(() => secured?.close());

describe("RqliteConnection never shows its credentials", () => {
  it("a malformed node URL with credentials throws TypeError naming option nodes, without the password", () => {
    for (const nodes of [
      `http://user:${PASSWORD}@bad host:4001`,
      `http://user:${PASSWORD}@`,
      `http://user:${PASSWORD}@:4001`,
      `http://user:${PASSWORD}@host:99999`,
      `http://user:${PASSWORD}@[::1:4001`,
      `http://user:p@ss:${PASSWORD}@bad host`,
      `http://user:${PASSWORD}/x@host:4001`,
      `http://user:${PASSWORD}`,
      `ftp://user:${PASSWORD}@host`,
      `user:${PASSWORD}@host:4001`,
      `http://user:%E0%A4%A${PASSWORD}@host:4001`,
      ["http://127.0.0.1:4001", `http://user:${PASSWORD}@bad host:4001`],
    ]) {
      const err = thrown(() => new RqliteConnection({ nodes }));
      assert.ok(err instanceof TypeError, String(err));
      assert.match(err.message, /^option nodes is invalid: /);
      assertNoCredentials(err);
    }
    // Not a string where a URL belongs: a URL object, or the URL as the options themselves.
    const asUrl = new URL(`http://user:${PASSWORD}@127.0.0.1:4001`);
    for (const [make, option] of [
      [() => new RqliteConnection({ nodes: [asUrl as unknown as string] }), /^option nodes/],
      [
        () => new RqliteConnection({ nodes: { 0: asUrl.href } as unknown as string[] }),
        /^option nodes/,
      ],
      [() => new RqliteConnection(asUrl.href as unknown as { nodes: string }), /^options is/],
      [
        () => new RqliteConnection({ nodes: url, password: 1234 as unknown as string }),
        /^option password/,
      ],
    ] as const) {
      const err = thrown(make);
      assert.ok(err instanceof TypeError, String(err));
      assert.match(err.message, option);
      assertNoCredentials(err, [PASSWORD, "1234"]);
    }
  });

  it("a 401 answer to wrong credentials rejects with RqliteAuthError that shows neither password", async () => {
    for (const conn of [
      new RqliteConnection({ nodes: url, username: USER, password: WRONG }),
      new RqliteConnection({ nodes: withCredentials(url, WRONG) }),
    ]) {
      const err = await conn.query([["SELECT 1"]]).catch((e: unknown) => e);
      assert.ok(err instanceof RqliteAuthError, String(err));
      assert.equal(err.status, 401);
      assertNoCredentials(err, [PASSWORD, WRONG]);
      await conn.close();
    }
  });

  it("an SQL error on an authenticated connection does not show the credentials", async () => {
    for (const conn of [
      new RqliteConnection({ nodes: url, username: USER, password: PASSWORD }),
      new RqliteConnection({ nodes: withCredentials(url) }),
    ]) {
      const err = await conn.query([["SELECT * FROM no_such_table"]]).catch((e: unknown) => e);
      assert.ok(err instanceof RqliteError && !(err instanceof RqliteAuthError), String(err));
      assert.equal(err.status, 200);
      assertNoCredentials(err);
      await conn.close();
    }
  });

  it("StoreUnavailableError and its cause chain do not show the credentials: refused, timed out, trickled", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const proxy = await startTrickleProxy(url, { trickle: true });
    try {
      for (const [nodes, deadline] of [
        [withCredentials(closed), 300],
        [[withCredentials(closed), withCredentials(proxy.url)], 800],
        [withCredentials(proxy.url), 500],
      ] as const) {
        const conn = new RqliteConnection({ nodes, deadline });
        const err = await conn.query([["SELECT 1"]]).catch((e: unknown) => e);
        assert.ok(err instanceof StoreUnavailableError, String(err));
        assert.ok(err.cause instanceof Error, "cause attached");
        assertNoCredentials(err);
        await conn.close();
      }
      assert.ok(proxy.trickled >= 1, "the trickled answer carried rqlited's real 200 headers");
    } finally {
      await proxy.close();
    }
  });

  it("what the server says is repeated in errors with the credentials sent cut out", () => {
    const secrets = [basic(USER, PASSWORD), PASSWORD];
    const echo = `bad request: Authorization: Basic ${basic(USER, PASSWORD)} password=${PASSWORD}`;
    for (const [status, text] of [
      [400, echo],
      [401, echo],
      [503, echo],
      [200, JSON.stringify({ error: echo })],
      [200, JSON.stringify({ results: [{ error: echo }] })],
    ] as const) {
      const err = thrown(() => parseAnswer(status, text, "http://127.0.0.1:4001", false, secrets));
      assert.ok(err instanceof Error);
      assert.ok(!err.message.includes(PASSWORD), err.message);
      assert.ok(!err.message.includes(basic(USER, PASSWORD)), err.message);
    }
    // Data is data: only messages are scrubbed, never the results.
    const data = JSON.stringify({ results: [{ columns: ["p"], values: [[PASSWORD]] }] });
    assert.deepEqual(parseAnswer(200, data, "", false, secrets), [
      { columns: ["p"], values: [[PASSWORD]] },
    ]);
  });
});
