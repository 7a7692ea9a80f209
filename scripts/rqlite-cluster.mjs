// `npm run rqlite`: a local 3-node rqlite cluster to play with, in the foreground.
// HTTP on 127.0.0.1:4001/4002/4003, Raft on 4011/4012/4013, data in a temp dir removed on exit.
// Ctrl-C stops every node. `--fast` uses sub-second Raft timeouts (as the tests do).
// Usage: node scripts/rqlite-cluster.mjs [--fast]
import { register } from "tsx/esm/api";

register();
const { startCluster } = await import("../test/helpers/rqlite.ts");

const fast = process.argv.includes("--fast");
const cluster = await startCluster(3, { httpPort: 4001, raftPort: 4011, fastRaft: fast });
const leader = await cluster.leader();
console.log(`rqlite cluster up (${fast ? "fast" : "default"} Raft timeouts):`);
for (const n of cluster.nodes) {
  console.log(
    `  ${n.id}  ${n.url}  raft ${n.raftAddr}  pid ${n.pid}${n === leader ? "  (leader)" : ""}`,
  );
}
console.log(`Try: RQLITE_URL=${cluster.urls[0]} npm start`);
console.log("Ctrl-C stops all nodes.");

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping rqlite cluster");
  await cluster.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
// Stay in the foreground (the harness does not hold the event loop).
setInterval(() => {}, 1 << 30);
