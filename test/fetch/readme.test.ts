// The README's Bun, Deno and React Router examples are the files in examples/bun, examples/deno
// and examples/react-router (which test/runtimes/examples.test.ts and
// test/fetch/react-router.test.ts run), with imports rewritten to the package names: this test
// keeps the two identical so the docs cannot rot.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

const readme = readFileSync("README.md", "utf8");

/** The ```ts blocks after the heading `### <title>`, up to the next heading. */
function blocksAfter(title: string): string[] {
  const at = readme.indexOf(`\n### ${title}\n`);
  assert.ok(at >= 0, `README has a "### ${title}" section`);
  const next = readme.slice(at + title.length + 6).search(/\n#{2,3} /);
  const text = readme.slice(at, next < 0 ? undefined : at + title.length + 6 + next);
  return [...text.matchAll(/```ts\n([\s\S]*?)\n```/g)].map((m) => (m[1] as string).trim());
}

/** The example file as a user would write it: imports from the package, not from src/. */
function asPublished(file: string): string {
  return readFileSync(file, "utf8")
    .replace(/^\/\*\*[\s\S]*?\*\/\n/, "")
    .replace(/"(\.\.\/)+src\/fetch\.ts"/g, '"scs-ts/fetch"')
    .replace(/"(\.\.\/)+src\/index\.ts"/g, '"scs-ts"')
    .trim();
}

describe("README Fetch API examples", () => {
  it("the Bun section shows examples/bun/server.ts exactly", () => {
    assert.deepEqual(blocksAfter("Bun"), [asPublished("examples/bun/server.ts")]);
  });
  it("the Deno section shows examples/deno/server.ts exactly", () => {
    assert.deepEqual(blocksAfter("Deno"), [asPublished("examples/deno/server.ts")]);
  });
  it("the React Router section shows the example's manager and route modules exactly", () => {
    const files = [
      "sessions.server",
      "routes/visits",
      "routes/me",
      "routes/login",
      "routes/logout",
    ];
    assert.deepEqual(
      blocksAfter("React Router (loaders and actions)"),
      files.map((f) => asPublished(`examples/react-router/app/${f}.ts`)),
    );
  });
});
