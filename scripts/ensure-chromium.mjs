// The browser test drives Debian's Chromium. On a fresh machine it is not installed yet:
// install it with apt-get (as root, or through sudo without a password), so that `npm test`
// works as written. Anything else: say what to run and fail.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = "/usr/bin/chromium";
if (existsSync(CHROMIUM)) process.exit(0);

const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
const prefix = asRoot ? [] : ["sudo", "-n"];
const run = (args) => {
  const [cmd, ...rest] = [...prefix, ...args];
  const result = spawnSync(cmd, rest, {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  return result.status === 0;
};

console.error(`${CHROMIUM} is missing: installing Debian's chromium for the browser test`);
if (run(["apt-get", "update", "-qq"]) && run(["apt-get", "install", "-y", "-qq", "chromium"])) {
  if (existsSync(CHROMIUM)) process.exit(0);
}
console.error(
  "could not install chromium; run `sudo apt-get install -y chromium` and then `npm test` again",
);
process.exit(1);
