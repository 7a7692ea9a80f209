import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createClient } from "redis";
import { StoreUnavailableError } from "../../src/errors.ts";
import { RedisStore } from "../../src/stores/redisstore.ts";
import { type RedisServer, redisCommand, startRedis } from "../helpers/redis.ts";
import { CLIENT_KINDS, connectClient, type TestClient } from "./redis-clients.ts";

/**
 * What RedisStore callers get when Redis fails: a StoreUnavailableError (503) for every kind of
 * failure (a hung server, a killed one, a closed client, an error reply, too few replicas),
 * within the deadline, with the client's error as cause and no token anywhere in it; and the
 * same store working again once Redis is back, without being made anew.
 */

const HOUR = 3_600_000;
const TOKEN = "tok_must_not_leak_2f8Hq0aZ1xYbP3c_-kLm9oRsTuV";
const bytes = (s: string) => new TextEncoder().encode(s);
const later = () => new Date(Date.now() + HOUR);
const servers: RedisServer[] = [];
const clients: TestClient[] = [];

after(async () => {
  for (const c of clients) await c.quit();
  for (const s of servers) await s.stop();
});

async function setup(kind: (typeof CLIENT_KINDS)[number]) {
  const server = await startRedis();
  servers.push(server);
  const c = await connectClient(kind, server.port);
  clients.push(c);
  return { server, c };
}

/** The rejection of `p`, checked to be a StoreUnavailableError that keeps the token out. */
async function unavailable(p: Promise<unknown>, what: string): Promise<StoreUnavailableError> {
  const err = await p.then(
    () => assert.fail(`${what}: expected a rejection`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof StoreUnavailableError, `${what}: ${String(err)}`);
  assert.equal(err.status, 503);
  assert.ok(!err.message.includes(TOKEN), `${what}: no token in ${err.message}`);
  const cause = err.cause as { command?: unknown } | undefined;
  if (cause !== undefined) {
    assert.ok(!JSON.stringify(cause.command ?? "").includes(TOKEN), `${what}: no token in cause`);
    assert.ok(!String(cause).includes(TOKEN), `${what}: no token in the cause's message`);
  }
  return err;
}

for (const kind of CLIENT_KINDS) {
  describe(`RedisStore on ${kind} when Redis fails`, () => {
    it("a hung server (SIGSTOP): every call rejects at the deadline; after SIGCONT it works again", async () => {
      const { server, c } = await setup(kind);
      const store = new RedisStore(c.client, { deadline: 300 });
      await store.commit(TOKEN, bytes("before"), later());
      server.signal("SIGSTOP");
      try {
        const calls: [string, Promise<unknown>][] = [
          ["find", store.find(TOKEN)],
          ["commit", store.commit(TOKEN, bytes("during"), later())],
          ["delete", store.delete(TOKEN)],
          ["all", store.all()],
        ];
        for (const [what, p] of calls) {
          const err = await unavailable(p, what);
          assert.match(err.message, /no answer within the 300 ms deadline/);
        }
      } finally {
        server.signal("SIGCONT");
      }
      // The commit and delete answered 503 reach Redis now, past their deadline: neither lands
      // (a late write could otherwise undo newer acknowledged ones, or bring back a session).
      await c.command(["PING"]);
      assert.deepEqual(await store.find(TOKEN), Buffer.from("before"), "no late write landed");
      // The client's queued commands ran once the server answered: the store works again.
      await store.commit(TOKEN, bytes("after"), later());
      assert.deepEqual(await store.find(TOKEN), Buffer.from("after"));
    });

    it("a killed server: calls reject (no hang); the same store works once it is back", async () => {
      const { server, c } = await setup(kind);
      const store = new RedisStore(c.client, { deadline: 300 });
      await store.commit(TOKEN, bytes("x"), later());
      await server.kill();
      await unavailable(store.find(TOKEN), "find");
      await unavailable(store.commit(TOKEN, bytes("y"), later()), "commit");
      const back = await startRedis({ port: server.port, dir: server.dir });
      servers.push(back);
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await store.commit(TOKEN, bytes("z"), later());
          break;
        } catch (err) {
          assert.ok(err instanceof StoreUnavailableError, String(err));
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.deepEqual(await store.find(TOKEN), Buffer.from("z"));
    });

    it("a write that reaches Redis past its deadline by Redis's clock (app clock a minute behind) is a 503 that names the clocks, and changes nothing", async () => {
      const { c } = await setup(kind);
      // With and without WAIT (no replica here: the refusal is what the answer names).
      for (const waitReplicas of [0, 1]) {
        const store = new RedisStore(c.client, { deadline: 1_000, waitReplicas });
        await new RedisStore(c.client).commit(TOKEN, bytes("before"), later());
        const realNow = Date.now;
        Date.now = () => realNow() - 60_000;
        try {
          // One after the other: a WAIT holds the connection until its timeout.
          for (const [what, call] of [
            ["commit", () => store.commit(TOKEN, bytes("late"), later())],
            ["delete", () => store.delete(TOKEN)],
          ] as const) {
            const err = await unavailable(call(), `${what}, waitReplicas ${waitReplicas}`);
            assert.match(err.message, /after its 1000 ms deadline .*clocks/, what);
          }
        } finally {
          Date.now = realNow;
        }
        assert.deepEqual(await store.find(TOKEN), Buffer.from("before"), "neither write landed");
      }
    });

    it("an error reply (WRONGTYPE) is StoreUnavailableError; its cause keeps no key", async () => {
      const { c } = await setup(kind);
      const store = new RedisStore(c.client, { prefix: "p:" });
      await c.command(["HSET", `p:${TOKEN}`, "f", "v"]);
      const err = await unavailable(store.find(TOKEN), "find of a hash");
      assert.match(err.message, /WRONGTYPE/);
      assert.ok(err.cause instanceof Error, "the client's error is the cause");
    });

    it("a client the user closed: calls reject at once with StoreUnavailableError", async () => {
      const { c } = await setup(kind);
      const store = new RedisStore(c.client, { deadline: 5_000 });
      await c.quit();
      for (const [what, p] of [
        ["find", store.find(TOKEN)],
        ["commit", store.commit(TOKEN, bytes("x"), later())],
        ["delete", store.delete(TOKEN)],
        ["all", store.all()],
      ] as const) {
        const err = await unavailable(p, what);
        assert.doesNotMatch(err.message, /deadline/, `${what}: rejected by the client, not late`);
      }
    });

    // One library family shares its write path across versions: ioredis and node-redis cover it.
    if (kind !== "ioredis" && kind !== "node-redis") return;
    it("waitReplicas: 1 without a replica rejects; with one, the write is on the replica when commit resolves", async () => {
      const { server, c } = await setup(kind);
      const alone = new RedisStore(c.client, { waitReplicas: 1, deadline: 600, prefix: "w:" });
      const err = await unavailable(alone.commit(TOKEN, bytes("x"), later()), "commit");
      assert.match(err.message, /reached 0 of the 1 replica required/);
      await unavailable(alone.delete(TOKEN), "delete");
      const replica = await startRedis({ replicaOf: { host: server.host, port: server.port } });
      servers.push(replica);
      const store = new RedisStore(c.client, { waitReplicas: 1, prefix: "w:" });
      const until = Date.now() + 10_000;
      for (;;) {
        // The replica's first sync: WAIT counts it only once it is connected.
        try {
          await store.commit(TOKEN, bytes("replicated"), later());
          break;
        } catch (e) {
          if (Date.now() > until) throw e;
        }
      }
      for (let i = 0; i < 20; i++) {
        await store.commit(`${TOKEN}${i}`, bytes(`v${i}`), later());
        assert.equal(await redisCommand(replica.port, ["GET", `w:${TOKEN}${i}`]), `v${i}`);
      }
      await store.delete(`${TOKEN}0`);
      assert.equal(await redisCommand(replica.port, ["EXISTS", `w:${TOKEN}0`]), 0);
    });
  });
}

describe("RedisStore on a node-redis client that never connected", () => {
  it("rejects with StoreUnavailableError, not a hang", async () => {
    const client = createClient({ url: "redis://127.0.0.1:1" });
    const store = new RedisStore(client, { deadline: 1_000 });
    const err = await unavailable(store.find(TOKEN), "find");
    assert.doesNotMatch(err.message, /deadline/);
  });
});
