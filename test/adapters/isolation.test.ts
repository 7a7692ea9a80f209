// Importing scs-ts must never load a framework: the core entry's import graph holds no
// framework, and the adapters import their framework for types only.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";

const FRAMEWORKS = /^(express|fastify|hono|koa|@hono\/.*|hono\/.*)$/;
// Value imports (not `import type`) and re-exports, with their specifier.
const VALUE_IMPORT = /^\s*(?:import|export)\s+(?!type\b)[^;]*?from\s+"([^"]+)"/gms;
const DYNAMIC_IMPORT = /import\(\s*"([^"]+)"\s*\)/g;

function valueImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const match of text.matchAll(VALUE_IMPORT)) found.push(match[1] as string);
  for (const match of text.matchAll(DYNAMIC_IMPORT)) found.push(match[1] as string);
  return found;
}

/** Every bare specifier reachable from `entry` through value imports of local files. */
function bareSpecifiers(entry: string): Set<string> {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of valueImports(file)) {
      if (spec.startsWith(".")) visit(join(dirname(file), spec));
      else bare.add(spec);
    }
  };
  visit(entry);
  return bare;
}

describe("importing scs-ts loads no framework", () => {
  it("the core entry's import graph holds no framework", () => {
    const bare = [...bareSpecifiers("src/index.ts")];
    assert.ok(bare.length > 0, "the walk found the node: imports");
    assert.deepEqual(
      bare.filter((spec) => FRAMEWORKS.test(spec)),
      [],
    );
  });

  for (const adapter of ["express", "fastify", "hono", "koa"]) {
    it(`the ${adapter} adapter imports its framework for types only`, () => {
      const bare = [...bareSpecifiers(`src/adapters/${adapter}.ts`)];
      assert.deepEqual(
        bare.filter((spec) => FRAMEWORKS.test(spec)),
        [],
      );
      assert.match(readFileSync(`src/adapters/${adapter}.ts`, "utf8"), /import type/);
    });
  }
});
