import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { Redis as IoRedis } from "ioredis";
import { createClient } from "redis";
import { SessionConflictError } from "../../src/errors.ts";
import { SessionManager } from "../../src/manager.ts";
import { RedisStore } from "../../src/stores/redisstore.ts";
import { storeConformance } from "../../src/testing/conformance.ts";
import { type RedisServer, startRedis } from "../helpers/redis.ts";
import { CLIENT_KINDS, connectClient, type TestClient } from "./redis-clients.ts";

const HOUR = 3_600_000;
const bytes = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array | null | undefined) =>
  b === undefined || b === null ? "none" : Buffer.from(b).toString("hex");
const uniquePrefix = () => `scs-test:${randomBytes(6).toString("hex")}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: RedisServer;
const clients = new Map<string, TestClient>();

before(async () => {
  server = await startRedis();
  for (const kind of CLIENT_KINDS) clients.set(kind, await connectClient(kind, server.port));
});
after(async () => {
  for (const c of clients.values()) await c.quit();
  await server?.stop();
});

const on = (kind: string): TestClient => clients.get(kind) as TestClient;

for (const kind of CLIENT_KINDS) {
  storeConformance(`RedisStore on ${kind}`, {
    makeStore: () => new RedisStore(on(kind).client, { prefix: uniquePrefix() }),
    closeStore: (s) => (s as RedisStore).close(),
    startsEmpty: true,
  });
}

for (const kind of CLIENT_KINDS) {
  describe(`RedisStore on ${kind}: what is in Redis`, () => {
    it("one key per session, prefix + token, holding the data bytes exactly, expiry PXAT", async () => {
      const c = on(kind);
      const prefix = uniquePrefix();
      const store = new RedisStore(c.client, { prefix });
      const data = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
      const expiry = new Date(Date.now() + HOUR + 123);
      await store.commit("tok-layout", data, expiry);
      assert.equal(hex(await c.rawGet(`${prefix}tok-layout`)), hex(data), "raw bytes");
      assert.equal(await c.expireTime(`${prefix}tok-layout`), expiry.getTime(), "PEXPIRETIME");
      // A view into a larger buffer stores only its own bytes.
      const big = randomBytes(64);
      await store.commit("tok-view", big.subarray(10, 20), expiry);
      assert.equal(hex(await c.rawGet(`${prefix}tok-view`)), hex(big.subarray(10, 20)));
    });

    it("Redis expires the key itself: gone from Redis after the expiry, no sweep", async () => {
      const c = on(kind);
      const prefix = uniquePrefix();
      const store = new RedisStore(c.client, { prefix });
      await store.commit("tok-exp", bytes("soon"), new Date(Date.now() + 150));
      assert.equal(hex(await store.find("tok-exp")), hex(bytes("soon")));
      await sleep(300);
      assert.equal(await store.find("tok-exp"), undefined, "find after expiry");
      assert.equal(await c.command(["EXISTS", `${prefix}tok-exp`]), 0, "key gone from Redis");
    });

    it("a commit with an expiry already passed (or an invalid Date) removes the key", async () => {
      const c = on(kind);
      const prefix = uniquePrefix();
      const store = new RedisStore(c.client, { prefix });
      await store.commit("t", bytes("x"), new Date(Date.now() + HOUR));
      await store.commit("t", bytes("y"), new Date(Date.now() - 1));
      assert.equal(await c.command(["EXISTS", `${prefix}t`]), 0);
      await store.commit("u", bytes("x"), new Date(Date.now() + HOUR));
      await store.commit("u", bytes("y"), new Date(Number.NaN));
      assert.equal(await store.find("u"), undefined);
      await store.commit("v", bytes("z"), new Date(0));
      assert.equal(await store.find("v"), undefined);
    });

    it("all() walks SCAN + MGET in pages of scanCount, never KEYS, across 1000 sessions", async () => {
      const c = on(kind);
      const prefix = uniquePrefix();
      const store = new RedisStore(c.client, { prefix, scanCount: 100 });
      const n = 1000;
      const expiry = new Date(Date.now() + HOUR);
      for (let i = 0; i < n; i += 500) {
        await Promise.all(
          Array.from({ length: Math.min(500, n - i) }, (_, j) =>
            store.commit(`s${i + j}`, bytes(`v${i + j}`), expiry),
          ),
        );
      }
      await store.commit("expired", bytes("x"), new Date(Date.now() - 10));
      // Other keys in the same database are not sessions of this store.
      await c.command(["SET", `${prefix.slice(0, -1)}X:other`, "no"]);
      await c.command(["SET", `other:${prefix}s1`, "no"]);
      const monitor = new IoRedis(server.port, "127.0.0.1");
      const seen: string[][] = [];
      const m = await monitor.monitor();
      m.on("monitor", (_time: string, args: string[]) => seen.push(args));
      try {
        const all = await store.all();
        assert.equal(all.size, n);
        for (let i = 0; i < n; i += 37) assert.equal(hex(all.get(`s${i}`)), hex(bytes(`v${i}`)));
        await sleep(50); // the monitor's last lines
      } finally {
        m.disconnect();
        monitor.disconnect();
      }
      const names = seen.map((a) => a[0]?.toUpperCase());
      assert.ok(!names.includes("KEYS"), "no KEYS");
      const mgets = seen.filter((a) => a[0]?.toUpperCase() === "MGET");
      assert.ok(mgets.length >= n / 100, `MGET in pages (${mgets.length})`);
      assert.ok(
        mgets.every((a) => a.length - 1 <= 100),
        "no MGET of more than scanCount keys",
      );
      assert.ok(names.filter((x) => x === "SCAN").length > 1, "several SCAN pages");
    });

    it("prefixes isolate stores sharing one database, glob characters included", async () => {
      const c = on(kind);
      const base = uniquePrefix();
      const a = new RedisStore(c.client, { prefix: `${base}a*:` });
      const b = new RedisStore(c.client, { prefix: `${base}ab:` });
      const expiry = new Date(Date.now() + HOUR);
      await a.commit("tok", bytes("A"), expiry);
      await b.commit("tok", bytes("B"), expiry);
      assert.equal(hex(await a.find("tok")), hex(bytes("A")));
      assert.equal(hex(await b.find("tok")), hex(bytes("B")));
      assert.deepEqual([...(await a.all()).keys()], ["tok"]);
      assert.deepEqual([...(await b.all()).keys()], ["tok"]);
      await a.delete("tok");
      assert.equal(hex(await b.find("tok")), hex(bytes("B")), "b untouched by a's delete");
    });

    it("a token with a lone surrogate is not found, and its commit is a TypeError", async () => {
      const store = new RedisStore(on(kind).client, { prefix: uniquePrefix() });
      assert.equal(await store.find("bad\uD800"), undefined);
      await store.delete("bad\uD800");
      await assert.rejects(
        Promise.resolve(store.commit("bad\uD800", bytes("x"), new Date(Date.now() + HOUR))),
        TypeError,
      );
    });
  });
}

describe("RedisStore with the session manager", () => {
  for (const kind of ["ioredis", "node-redis"] as const) {
    it(`hashTokenInStore on ${kind}: Redis holds SHA-256 of the token, never the token`, async () => {
      const c = on(kind);
      const prefix = uniquePrefix();
      const store = new RedisStore(c.client, { prefix });
      const sessions = new SessionManager({ store, hashTokenInStore: true });
      const s = await sessions.load(undefined);
      s.put("user", "ada");
      const { token } = await sessions.commit(s);
      const keys = [...(await store.all()).keys()];
      const hashed = createHash("sha256").update(token).digest("base64url");
      assert.deepEqual(keys, [hashed]);
      assert.equal(await c.command(["EXISTS", `${prefix}${token}`]), 0, "no key of the token");
      assert.equal((await sessions.load(token)).get("user"), "ada");
      await sessions.close();
    });

    it(`concurrency "reject" and "merge" on ${kind}`, async () => {
      const store = new RedisStore(on(kind).client, { prefix: uniquePrefix() });
      const reject = new SessionManager({ store, concurrency: "reject" });
      const first = await reject.load(undefined);
      first.put("n", 1);
      const { token } = await reject.commit(first);
      const a = await reject.load(token);
      const b = await reject.load(token);
      a.put("a", "A");
      await reject.commit(a);
      b.put("b", "B");
      await assert.rejects(reject.commit(b), SessionConflictError);
      const merge = new SessionManager({ store, concurrency: "merge" });
      const c = await merge.load(token);
      const d = await merge.load(token);
      c.put("c", "C");
      await merge.commit(c);
      d.put("d", "D");
      await merge.commit(d);
      const final = await merge.load(token);
      assert.deepEqual(
        [final.get("a"), final.get("b"), final.get("c"), final.get("d")],
        ["A", undefined, "C", "D"],
      );
    });
  }
});

describe("RedisStore options and the client", () => {
  it("takes the clients as users create them: new RedisStore(ioredis), (node-redis, { prefix })", async () => {
    const io = new RedisStore(on("ioredis").client);
    assert.equal(io.prefix, "scs:session:");
    const nr = new RedisStore(on("node-redis").client, { prefix: "app:sess:" });
    assert.equal(nr.prefix, "app:sess:");
    const token = `t-${randomBytes(8).toString("hex")}`;
    await io.commit(token, bytes("shared"), new Date(Date.now() + HOUR));
    // Same prefix, other client library: the same session.
    const other = new RedisStore(on("node-redis").client);
    assert.equal(hex(await other.find(token)), hex(bytes("shared")));
    await other.delete(token);
    assert.equal(await io.find(token), undefined);
  });

  it("a store can be made before node-redis connects, and works once it has", async () => {
    const client = createClient({ url: server.url });
    const store = new RedisStore(client, { prefix: uniquePrefix() });
    await client.connect();
    await store.commit("t", bytes("late"), new Date(Date.now() + HOUR));
    assert.equal(hex(await store.find("t")), hex(bytes("late")));
    await client.close();
  });

  it("ioredis keyPrefix: keys carry both prefixes, all() still lists the tokens", async () => {
    const client = new IoRedis(server.port, "127.0.0.1", { keyPrefix: "tenant7:" });
    const prefix = uniquePrefix();
    const store = new RedisStore(client, { prefix });
    await store.commit("tok", bytes("kp"), new Date(Date.now() + HOUR));
    assert.equal(hex(await on("ioredis").rawGet(`tenant7:${prefix}tok`)), hex(bytes("kp")));
    assert.deepEqual([...(await store.all()).keys()], ["tok"]);
    await client.quit();
  });

  it("close() waits for calls in flight and never closes the user's client", async () => {
    for (const kind of CLIENT_KINDS) {
      const c = on(kind);
      const store = new RedisStore(c.client, { prefix: uniquePrefix() });
      const pending = store.commit("t", bytes("x"), new Date(Date.now() + HOUR));
      let committed = false;
      void pending.then(() => {
        committed = true;
      });
      await store.close();
      assert.ok(committed, `${kind}: the commit in flight settled before close() resolved`);
      await store[Symbol.asyncDispose]();
      assert.equal(await c.command(["PING"]), "PONG", `${kind}: client still open`);
      assert.equal(hex(await store.find("t")), hex(bytes("x")), `${kind}: store still works`);
    }
  });

  it("its deadline timers never hold the process: a script exits once it quits its client", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scs-redis-exit-"));
    const require = createRequire(import.meta.url);
    const url = (path: string) => JSON.stringify(pathToFileURL(path).href);
    const script = join(dir, "exit.mts");
    writeFileSync(
      script,
      [
        `import { Redis } from ${url(require.resolve("ioredis"))};`,
        `import { RedisStore } from ${url(join(process.cwd(), "src/stores/redisstore.ts"))};`,
        `const client = new Redis(${server.port}, "127.0.0.1");`,
        "const store = new RedisStore(client, { deadline: 60_000 });",
        'await store.commit("exit-test", new Uint8Array([1]), new Date(Date.now() + 60_000));',
        'await store.find("exit-test");',
        'await store.delete("exit-test");',
        "await client.quit();",
        "",
      ].join("\n"),
    );
    try {
      // A timer of the 60 s deadline left running would keep it alive far past the limit.
      await new Promise<void>((resolve, reject) => {
        execFile(
          process.execPath,
          ["--import", "tsx", script],
          { cwd: process.cwd(), timeout: 20_000 },
          (err, _stdout, stderr) =>
            err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(),
        );
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bad options are TypeErrors naming the option and value", () => {
    const client = on("ioredis").client;
    const cases: [unknown, RegExp][] = [
      [{ prefix: 7 }, /option prefix is invalid: 7/],
      [{ prefix: "\uD800" }, /option prefix is invalid/],
      [{ deadline: 0 }, /option deadline is invalid: 0/],
      [{ deadline: -5 }, /option deadline is invalid: -5/],
      [{ deadline: Number.NaN }, /option deadline is invalid: NaN/],
      [{ deadline: "5000" }, /option deadline is invalid: "5000"/],
      [{ deadline: 2 ** 31 }, /option deadline is invalid/],
      [{ waitReplicas: -1 }, /option waitReplicas is invalid: -1/],
      [{ waitReplicas: 1.5 }, /option waitReplicas is invalid: 1.5/],
      [{ waitReplicas: "1" }, /option waitReplicas is invalid: "1"/],
      [{ scanCount: 0 }, /option scanCount is invalid: 0/],
      [{ scanCount: 10.5 }, /option scanCount is invalid: 10.5/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => new RedisStore(client, options as never),
        (err: unknown) => err instanceof TypeError && message.test(err.message),
        String(message),
      );
    }
    assert.throws(() => new RedisStore(client, null as never), TypeError);
  });

  it("something that is not a Redis client is a TypeError naming the client", () => {
    for (const bad of [undefined, null, "redis://127.0.0.1:6379", 6379, {}, { get() {} }]) {
      assert.throws(
        () => new RedisStore(bad as never),
        (err: unknown) =>
          err instanceof TypeError &&
          /^client is invalid: .*ioredis, iovalkey or node-redis/.test(err.message),
      );
    }
  });
});
