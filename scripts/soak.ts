/**
 * `npm run soak`: 60 s of mixed traffic (70 % read, 25 % write, 5 % renew/destroy) from 200
 * clients against the demo app on MemStore, then on a 3-node rqlite cluster. The server runs
 * in a child process so its RSS and event-loop delay are its own; the load generator is
 * test/helpers/load.ts (the same one the 10 s tests use).
 *
 * Usage: tsx scripts/soak.ts [--seconds 60] [--clients 200] [--only memstore|rqlite]
 * Prints the RSS curve (every 5 s), event-loop delay p99, req/s, status counts and lost writes.
 * @module
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { Store } from "../src/index.ts";
import {
  createLoadApp,
  formatReport,
  type LoadReport,
  runLoad,
  type ServerSample,
} from "../test/helpers/load.ts";

type Message =
  | { type: "listening"; port: number }
  | { type: "sample"; id: number; sample: ServerSample }
  | { type: "overall"; eventLoopDelayP99: number; eventLoopDelayMax: number };

const { values: args } = parseArgs({
  options: {
    serve: { type: "string" },
    nodes: { type: "string" },
    seconds: { type: "string", default: "60" },
    clients: { type: "string", default: "200" },
    only: { type: "string" },
  },
});

if (args.serve !== undefined) await serve(args.serve, args.nodes);
else await main();

/** Child: the demo server, answering the parent's sample requests over IPC. */
async function serve(kind: string, nodes: string | undefined): Promise<void> {
  let store: Store | undefined;
  if (kind === "rqlite") {
    const { RqliteStore } = await import("../src/stores/rqlitestore.ts");
    store = new RqliteStore((nodes ?? "").split(","));
  }
  const app = createLoadApp(store ? { store } : {});
  const interval = monitorEventLoopDelay({ resolution: 10 });
  const overall = monitorEventLoopDelay({ resolution: 10 });
  interval.enable();
  overall.enable();
  const ms = (ns: number) => Math.round(ns / 10_000) / 100;
  const send = (m: Message) => process.send?.(m);
  process.on("message", (m: { type: string; id?: number }) => {
    if (m.type === "sample") {
      const sample = {
        rss: process.memoryUsage.rss(),
        eventLoopDelayP99: ms(interval.percentile(99)),
      };
      interval.reset();
      send({ type: "sample", id: m.id ?? 0, sample });
    } else if (m.type === "stop") {
      send({
        type: "overall",
        eventLoopDelayP99: ms(overall.percentile(99)),
        eventLoopDelayMax: ms(overall.max),
      });
      app.server.close();
      app.server.closeAllConnections();
      void app.sessions.close().then(() => process.disconnect());
    }
  });
  app.server.listen(0, "127.0.0.1", () => {
    send({ type: "listening", port: (app.server.address() as AddressInfo).port });
  });
}

interface Row {
  label: string;
  report: LoadReport;
  overall: { eventLoopDelayP99: number; eventLoopDelayMax: number };
}

/** Parent: for each store, start the server child, run the load, collect the figures. */
async function main(): Promise<void> {
  const seconds = Number(args.seconds);
  const clients = Number(args.clients);
  const rows: Row[] = [];
  if (args.only === undefined || args.only === "memstore") {
    rows.push(await soak("MemStore", ["--serve", "memstore"], seconds, clients));
  }
  if (args.only === undefined || args.only === "rqlite") {
    const { startCluster } = await import("../test/helpers/rqlite.ts");
    const cluster = await startCluster(3);
    try {
      const serveArgs = ["--serve", "rqlite", "--nodes", cluster.urls.join(",")];
      rows.push(await soak("rqlite (3 nodes)", serveArgs, seconds, clients));
    } finally {
      await cluster.close();
    }
  }
  console.log(
    `\n${seconds} s, ${clients} clients, 70 % read / 25 % write / 5 % renew or destroy\n`,
  );
  console.log(
    "| store | req/s | requests | statuses | 5xx | timeouts | lost writes | latency p50 / p99 ms | server event-loop delay p99 / max ms | RSS MB (every 5 s) |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const { label, report: r, overall } of rows) {
    const rss = r.samples.map((s) => (s.rss / 1_048_576).toFixed(0)).join(" ");
    console.log(
      `| ${label} | ${r.requestsPerSecond} | ${r.requests} | ${JSON.stringify(r.outcomes)} | ${r.serverErrors} | ${r.timeouts} | ${r.lostWrites} | ${r.latency.p50} / ${r.latency.p99} | ${overall.eventLoopDelayP99} / ${overall.eventLoopDelayMax} | ${rss} |`,
    );
  }
}

async function soak(
  label: string,
  serveArgs: string[],
  seconds: number,
  clients: number,
): Promise<Row> {
  const child = fork(new URL(import.meta.url).pathname, serveArgs, {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  try {
    const [first] = (await once(child, "message")) as [Message];
    if (first.type !== "listening") throw new Error("the server child did not start");
    const probe = ipcProbe(child);
    console.log(`${label}: ${seconds} s of load from ${clients} clients...`);
    const report = await runLoad({
      url: `http://127.0.0.1:${first.port}`,
      clients,
      durationMs: seconds * 1000,
      maxRequests: 2_000_000,
      requestTimeoutMs: 15_000,
      probe,
      sampleEveryMs: 5_000,
    });
    child.send({ type: "stop" });
    const [overall] = (await once(child, "message")) as [Message];
    if (overall.type !== "overall") throw new Error("no final figures from the server child");
    console.log(formatReport(label, report));
    console.log(
      `  server event-loop delay p99 ${overall.eventLoopDelayP99} ms, max ${overall.eventLoopDelayMax} ms`,
    );
    return { label, report, overall };
  } finally {
    const exited = child.exitCode !== null ? Promise.resolve() : once(child, "exit");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

function ipcProbe(child: ChildProcess): () => Promise<ServerSample> {
  let next = 0;
  return () =>
    new Promise((resolve, reject) => {
      const id = ++next;
      const onMessage = (m: Message) => {
        if (m.type === "sample" && m.id === id) {
          child.off("message", onMessage);
          resolve(m.sample);
        }
      };
      child.on("message", onMessage);
      if (!child.send({ type: "sample", id })) reject(new Error("server child gone"));
    });
}
