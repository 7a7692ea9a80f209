/**
 * Child process of test/stores/rqlite-deadline.test.ts: one call through a trickling proxy to
 * the real rqlited at argv[2], with a 500 ms deadline, and the connection deliberately not
 * closed. Prints the outcome as one JSON line and has nothing left to do. The proxy holds the
 * process only while it trickles (its sockets are unref'd): if the client kept the stalled
 * socket, or any socket or timer of its own ref'd, this process does not exit.
 * Exit code 3 means an unhandled rejection.
 *
 * Usage: node --import tsx test/helpers/stalled-call.ts http://127.0.0.1:<port>
 * @module
 */
import { RqliteConnection } from "../../src/stores/rqlite-client.ts";
import { startTrickleProxy } from "./trickle-proxy.ts";

process.on("unhandledRejection", () => process.exit(3));

const target = process.argv[2];
if (!target) throw new Error("usage: stalled-call.ts <rqlited URL>");
const proxy = await startTrickleProxy(target, { trickle: true, interval: 200, unref: true });
const conn = new RqliteConnection({ nodes: proxy.url, deadline: 500 });
const started = Date.now();
const err = await conn.query([["SELECT 1"]]).then(
  () => undefined,
  (e: unknown) => e,
);
const elapsed = Date.now() - started;
console.log(
  JSON.stringify({
    error: err instanceof Error ? err.name : String(err),
    elapsed,
    trickled: proxy.trickled,
  }),
);
