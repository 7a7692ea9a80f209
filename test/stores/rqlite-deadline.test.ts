import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { StoreUnavailableError } from "../../src/errors.ts";
import { RqliteConnection } from "../../src/stores/rqlite-client.ts";
import { type RqliteCluster, startNode } from "../helpers/rqlite.ts";
import { startTrickleProxy, type TrickleProxy, waitFor } from "../helpers/trickle-proxy.ts";

/**
 * How late a call may settle after its deadline. The call ends when a timer fires, and a timer
 * fires late by however long the event loop is busy (GC, the proxy in this same process, other
 * test files' rqlited nodes on a small CI machine): 300 ms is far more than that costs, and far
 * less than the seconds a trickled body took before (a 1 s deadline took 6.8 s).
 */
const MARGIN = 300;
const TOKEN = "secret-token-0123456789";
const SELECT: [string, string] = ["SELECT ? AS t", TOKEN];
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

let node: RqliteCluster;
let direct: string;

before(async () => {
  process.on("unhandledRejection", onUnhandled);
  node = await startNode();
  direct = node.urls[0] as string;
});
after(async () => {
  await node?.close();
  // Late rejections from aborted attempts would land here.
  await new Promise((r) => setTimeout(r, 200));
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, [], "no unhandled rejection");
});

/** A fresh trickling proxy per test, so its connection counts are this test's own. */
function trickler(interval = 200): Promise<TrickleProxy> {
  return startTrickleProxy(direct, { trickle: true, interval });
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T | unknown; elapsed: number }> {
  const started = Date.now();
  const value = await run().catch((e: unknown) => e);
  return { value, elapsed: Date.now() - started };
}

describe("RqliteConnection deadline against a node that sends headers and trickles the body", () => {
  it("the deadline bounds the whole call: it rejects with StoreUnavailableError and destroys the stalled socket", async () => {
    const p = await trickler();
    const conn = new RqliteConnection({ nodes: p.url, deadline: 1000 });
    try {
      const { value: err, elapsed } = await timed(() => conn.query([SELECT]));
      assert.ok(err instanceof StoreUnavailableError, String(err));
      assert.ok(p.trickled >= 1, "rqlited's headers went out and its body trickled");
      assert.ok(elapsed >= 990, `settled after ${elapsed} ms, not before the deadline`);
      assert.ok(elapsed < 1000 + MARGIN, `settled after ${elapsed} ms (deadline 1000 ms)`);
      assert.doesNotMatch(err.message, /secret-token/);
      assert.match(String((err.cause as Error)?.message), /no complete answer within/);
      assert.ok(
        await waitFor(() => p.trickling === 0, 500),
        "the stalled attempt's socket is destroyed",
      );
    } finally {
      await conn.close();
      await p.close();
    }
  });

  it("the per-attempt timeout bounds reading the body: the next node answers after timeout ms", async () => {
    const p = await trickler();
    const conn = new RqliteConnection({ nodes: [p.url, direct], timeout: 300, deadline: 5000 });
    try {
      const { value, elapsed } = await timed(() => conn.query([SELECT]));
      assert.deepEqual(value, [{ columns: ["t"], values: [[TOKEN]] }]);
      assert.ok(p.trickled >= 1);
      assert.ok(elapsed < 300 + MARGIN, `answered after ${elapsed} ms (timeout 300 ms)`);
      assert.equal(conn.currentNode, direct);
      assert.ok(
        await waitFor(() => p.trickling === 0, 500),
        "the stalled attempt's socket is destroyed",
      );
    } finally {
      await conn.close();
      await p.close();
    }
  });

  it("with one trickling node and one direct node the call succeeds on the healthy node within the deadline", async () => {
    const p = await trickler();
    const conn = new RqliteConnection({ nodes: [p.url, direct], deadline: 1000 });
    try {
      const { value, elapsed } = await timed(() => conn.query([SELECT]));
      assert.deepEqual(value, [{ columns: ["t"], values: [[TOKEN]] }]);
      assert.ok(p.trickled >= 1);
      assert.ok(elapsed < 1000, `answered after ${elapsed} ms (deadline 1000 ms)`);
      // Writes too: the same bound holds for /db/execute.
      p.trickle = true;
      const conn2 = new RqliteConnection({ nodes: [p.url, direct], deadline: 1000 });
      const w = await timed(() => conn2.execute([["CREATE TABLE IF NOT EXISTS d (x)"]]));
      assert.ok(Array.isArray(w.value), String(w.value));
      assert.ok(w.elapsed < 1000, `write answered after ${w.elapsed} ms`);
      await conn2.close();
    } finally {
      await conn.close();
      await p.close();
    }
  });

  it("a trickled answer is rqlited's own, only delayed: given time it arrives whole", async () => {
    const p = await trickler(2);
    const conn = new RqliteConnection({ nodes: p.url, deadline: 20_000 });
    const plain = new RqliteConnection({ nodes: direct });
    try {
      const slow = await conn.query([SELECT]);
      assert.ok(p.trickled >= 1);
      assert.deepEqual(slow, await plain.query([SELECT]));
      // And with trickling off the proxy is transparent.
      p.trickle = false;
      const p2 = await startTrickleProxy(direct);
      const through = new RqliteConnection({ nodes: p2.url });
      assert.deepEqual(await through.query([SELECT]), slow);
      assert.equal(p2.trickled, 0);
      await through.close();
      await p2.close();
    } finally {
      await conn.close();
      await plain.close();
      await p.close();
    }
  });

  it("a call that ran out its deadline holds no socket or timer: the process exits without close()", async () => {
    const script = fileURLToPath(new URL("../helpers/stalled-call.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script, direct], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (c: string) => {
      out += c;
    });
    // "close", not "exit": stdout is read to its end by then.
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    // Startup of node and tsx takes a few hundred ms; after the 500 ms deadline the child has
    // nothing left to do. A leaked socket would keep it trickling for 10 s and more.
    const code = await Promise.race([
      exited,
      new Promise<"hung">((r) => setTimeout(() => r("hung"), 8_000).unref()),
    ]);
    if (code === "hung" && child.pid) process.kill(child.pid, "SIGKILL");
    assert.notEqual(code, "hung", `the child did not exit; it printed ${out}`);
    assert.equal(code, 0, `exit code ${code} (3: an unhandled rejection); printed ${out}`);
    const result = JSON.parse(out) as { error: string; elapsed: number; trickled: number };
    assert.equal(result.error, "StoreUnavailableError");
    assert.ok(result.trickled >= 1);
    assert.ok(result.elapsed < 500 + MARGIN, `settled after ${result.elapsed} ms (deadline 500)`);
  });
});
