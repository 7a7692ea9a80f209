import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { RedisStore } from "connect-redis";
import express from "express";
import session from "express-session";
import { createClient } from "redis";
import dropIn from "../../src/adapters/express-session.ts";
import { StoreUnavailableError } from "../../src/errors.ts";
import { SessionManager } from "../../src/manager.ts";
import { isIterableStore } from "../../src/store.ts";
import { fromExpressStore } from "../../src/stores/connect-store.ts";
import { storeConformance } from "../../src/testing/conformance.ts";
import { cookiePair, listen, request } from "../helpers/http.ts";
import { type RedisServer, redisCommand, startRedis } from "../helpers/redis.ts";

const HOUR = 3_600_000;
const bytes = (s: string) => new TextEncoder().encode(s);
type Client = ReturnType<typeof createClient>;

let redis: RedisServer;
let client: Client;
const clientErrors: Error[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

async function connectClient(port: number): Promise<Client> {
  const c = createClient({ url: `redis://127.0.0.1:${port}` });
  c.on("error", (err: Error) => clientErrors.push(err));
  await c.connect();
  return c;
}

before(async () => {
  process.on("unhandledRejection", onUnhandled);
  redis = await startRedis();
  client = await connectClient(redis.port);
});
after(async () => {
  client?.destroy();
  await redis?.stop();
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, [], "no unhandled rejection");
});

const prefix = () => `sess-${randomBytes(4).toString("hex")}:`;

storeConformance("fromExpressStore(connect-redis on redis-server)", {
  makeStore: () => fromExpressStore(new RedisStore({ client, prefix: prefix() })),
  startsEmpty: true,
});

describe("fromExpressStore(connect-redis) on a real redis-server", () => {
  it("the key's Redis TTL is the commit's expiry (connect-redis reads cookie.expires)", async () => {
    const p = prefix();
    const bridge = fromExpressStore(new RedisStore({ client, prefix: p }));
    await bridge.commit("k", bytes("x"), new Date(Date.now() + 90_000));
    const pttl = (await redisCommand(redis.port, ["PTTL", `${p}k`])) as number;
    // connect-redis rounds up to whole seconds: 90 s, not its 1-day default.
    assert.ok(pttl > 88_000 && pttl <= 91_000, `PTTL ${pttl}`);
    await bridge.commit("k", bytes("y"), new Date(Date.now() + 2 * HOUR));
    const later = (await redisCommand(redis.port, ["PTTL", `${p}k`])) as number;
    assert.ok(later > 2 * HOUR - 5_000 && later <= 2 * HOUR + 1_000, `PTTL ${later}`);
  });

  it("the stored value is JSON with the bytes as base64, every byte intact", async () => {
    const p = prefix();
    const bridge = fromExpressStore(new RedisStore({ client, prefix: p }));
    const data = Uint8Array.from({ length: 256 }, (_, i) => i);
    await bridge.commit("k", data, new Date(Date.now() + HOUR));
    const raw = JSON.parse((await redisCommand(redis.port, ["GET", `${p}k`])) as string);
    assert.equal(raw.scs, Buffer.from(data).toString("base64"));
    assert.equal(typeof raw.cookie.expires, "string");
    assert.deepEqual(await bridge.find("k"), data);
  });

  it("is iterable (connect-redis has all, an array with ids) and its type says so", async () => {
    const bridge = fromExpressStore(new RedisStore({ client, prefix: prefix() }));
    assert.ok(isIterableStore(bridge));
    await bridge.commit("a", bytes("A"), new Date(Date.now() + HOUR));
    const all: Map<string, Uint8Array> = await bridge.all();
    assert.deepEqual([...all.entries()], [["a", bytes("A")]]);
  });

  it("shares the store with an express-session app: each ignores the other's sessions", async () => {
    const p = prefix();
    const store = new RedisStore({ client, prefix: p });
    const app = express();
    app.use(session({ store, secret: "s3cret", resave: false, saveUninitialized: false }));
    app.get("/", (req, res) => {
      (req.session as unknown as { views?: number }).views = 1;
      res.send("ok");
    });
    const { url, close } = await listen(app.listen(0, "127.0.0.1"));
    try {
      const res = await request(url);
      assert.equal(res.status, 200);
      assert.ok(cookiePair(res, "connect.sid") !== undefined);
      const bridge = fromExpressStore(store);
      const sessions = new SessionManager({ store: bridge });
      const keys = (await redisCommand(redis.port, ["KEYS", `${p}*`])) as string[];
      assert.equal(keys.length, 1, "the express-session app's session is there");
      const sid = (keys[0] as string).slice(p.length);
      assert.equal(await bridge.find(sid), undefined, "not ours: not found");
      const loaded = await sessions.load(sid);
      assert.equal(loaded.token, "", "a fresh session, not the other app's");
      await bridge.commit("ours", bytes("o"), new Date(Date.now() + HOUR));
      assert.deepEqual([...(await bridge.all()).keys()], ["ours"]);
    } finally {
      await close();
    }
  });

  it("scs-ts/express-session keeps the app's connect-redis store through the bridge", async () => {
    const p = prefix();
    const app = express();
    app.use(
      dropIn({
        store: fromExpressStore(new RedisStore({ client, prefix: p })),
        secret: "accepted and ignored",
        resave: false,
        saveUninitialized: false,
        cookie: { maxAge: 60_000 },
      }),
    );
    app.get("/visit", (req, res) => {
      const s = req.session as unknown as { views?: number };
      s.views = (s.views ?? 0) + 1;
      res.send(String(s.views));
    });
    const { url, close } = await listen(app.listen(0, "127.0.0.1"));
    try {
      const first = await request(`${url}/visit`);
      assert.equal(first.body, "1");
      const cookie = cookiePair(first, "connect.sid");
      assert.ok(cookie !== undefined);
      const second = await request(`${url}/visit`, { headers: { cookie } });
      assert.equal(second.body, "2");
      const keys = (await redisCommand(redis.port, ["KEYS", `${p}*`])) as string[];
      assert.equal(keys.length, 1);
      const pttl = (await redisCommand(redis.port, ["PTTL", keys[0] as string])) as number;
      assert.ok(pttl > 55_000 && pttl <= 61_000, `the cookie's maxAge is the key's TTL: ${pttl}`);
    } finally {
      await close();
    }
  });

  it("a stopped redis-server: every call fails with StoreUnavailableError within the deadline", async () => {
    const own = await startRedis();
    const c = await connectClient(own.port);
    try {
      const bridge = fromExpressStore(new RedisStore({ client: c, prefix: prefix() }), {
        deadline: 300,
      });
      await bridge.commit("k", bytes("x"), new Date(Date.now() + HOUR));
      await own.kill();
      const started = performance.now();
      const results = await Promise.allSettled([
        bridge.find("k"),
        bridge.commit("k", bytes("y"), new Date(Date.now() + HOUR)),
        bridge.delete("k"),
        bridge.all(),
      ]);
      for (const r of results) {
        assert.equal(r.status, "rejected");
        assert.ok((r as PromiseRejectedResult).reason instanceof StoreUnavailableError);
      }
      assert.ok(performance.now() - started < 5_000, "answered, not hung");
    } finally {
      c.destroy();
      await own.stop();
    }
  });
});
