// One contract suite for the Fetch API session layer (`fetchSession` and the Hono adapter),
// run on Node (served through @hono/node-server), on Bun (`Bun.serve`) and on Deno
// (`Deno.serve`), with MemStore and with a real rqlited node. One server process per runtime
// (test/runtimes/server.ts) is driven over 127.0.0.1 from this Node process.

import { after, before, describe } from "node:test";
import { fileURLToPath } from "node:url";
import { type RqliteCluster, startNode } from "../helpers/rqlite.ts";
import { bunBinary, denoBinary, nodeBinary, type RuntimeBinary } from "./binaries.ts";
import { type BaseUrl, sessionCases, setupCases } from "./contract.ts";
import { type RuntimeServer, startRuntime } from "./spawn.ts";

const SERVER = fileURLToPath(new URL("./server.ts", import.meta.url));

let cluster: RqliteCluster | undefined;
const rqlite = startNode().then((started) => {
  cluster = started;
  return started.urls[0] as string;
});
after(async () => {
  await cluster?.close();
});

function onRuntime(binary: () => RuntimeBinary): void {
  const found = binary();
  describe(`${found.name} ${found.version}`, () => {
    let server: RuntimeServer | undefined;
    const started = rqlite.then((url) => startRuntime(found, SERVER, [url]));
    // Failing before the first case makes every case fail with the reason, not hang.
    const base: BaseUrl = async () => {
      server = await started;
      return server.url;
    };
    before(() => base());
    after(async () => {
      await (server ?? (await started.catch(() => undefined)))?.stop();
    });
    // The runtime's own error path for a thrown handler: checked for the status and no cookie.
    sessionCases(base, "mem", undefined);
    sessionCases(base, "rq", undefined);
    sessionCases(base, "hono", /^framework error$/);
    sessionCases(base, "honorq", /^framework error$/);
    setupCases(base, true);
  });
}

// The three runtimes run side by side; each one's cases run in order.
describe("the Fetch API session contract", { concurrency: 3 }, () => {
  onRuntime(nodeBinary);
  onRuntime(bunBinary);
  onRuntime(denoBinary);
});
