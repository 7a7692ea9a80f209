// The README's framework examples are the files in examples/frameworks/ (which
// test/adapters/examples.test.ts runs), with imports rewritten to the package names: this test
// keeps the two identical so the docs cannot rot.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

const readme = readFileSync("README.md", "utf8");

/** The first ```ts block after the heading `### <title>`. */
function blockAfter(title: string): string {
  const at = readme.indexOf(`\n### ${title}\n`);
  assert.ok(at >= 0, `README has a "### ${title}" section`);
  const start = readme.indexOf("```ts\n", at);
  const end = readme.indexOf("\n```", start + 6);
  return readme.slice(start + 6, end + 1);
}

/** The example file as a user would write it: imports from the package, not from src/. */
function asPublished(file: string): string {
  return readFileSync(file, "utf8")
    .replace(/^\/\*\*[\s\S]*?\*\/\n/, "") // the file's own header comment
    .replace(/"\.\.\/\.\.\/src\/adapters\/(\w+)\.ts"/g, '"scs-ts/$1"')
    .replace(/"\.\.\/\.\.\/src\/index\.ts"/g, '"scs-ts"');
}

describe("README framework examples", () => {
  for (const [title, file] of [
    ["Express", "examples/frameworks/express.ts"],
    ["Fastify", "examples/frameworks/fastify.ts"],
    ["Hono", "examples/frameworks/hono.ts"],
    ["Koa", "examples/frameworks/koa.ts"],
  ] as const) {
    it(`the ${title} section shows ${file} exactly`, () => {
      assert.equal(blockAfter(title).trim(), asPublished(file).trim());
    });
  }
});
