// Run after any `npm install` that changes package-lock.json.
//
// The package registry this project installs from serves only the Linux x64 builds of
// packages that ship one optional package per platform (esbuild, rollup, biome...). npm then
// writes a lock whose packages still list every platform's optional dependency but which has
// no entry for the ones it could not fetch, and `npm ci` refuses such a lock ("Missing: ... from
// lock file"). This drops those dangling optional dependency names from the lock, so that
// `npm ci` installs exactly what `npm install` did.
import { readFileSync, writeFileSync } from "node:fs";

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const packages = lock.packages;

/** Where Node would resolve `name` from the package at `path` (nested first, then up). */
function resolves(path, name) {
  let dir = path;
  for (;;) {
    const candidate = dir === "" ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (candidate in packages) return true;
    if (dir === "") return false;
    const at = dir.lastIndexOf("/node_modules/");
    dir = at === -1 ? "" : dir.slice(0, at);
  }
}

let dropped = 0;
for (const [path, entry] of Object.entries(packages)) {
  const optional = entry.optionalDependencies;
  if (optional === undefined) continue;
  for (const name of Object.keys(optional)) {
    if (!resolves(path, name)) {
      delete optional[name];
      dropped++;
    }
  }
  if (Object.keys(optional).length === 0) delete entry.optionalDependencies;
}
writeFileSync("package-lock.json", `${JSON.stringify(lock, null, 2)}\n`);
console.log(`fix-lockfile: dropped ${dropped} optional dependencies the registry does not serve`);
