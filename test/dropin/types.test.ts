/**
 * The drop-ins' types as an application sees them: test/types/dropin-*.ts compiled in a
 * program of their own against the built dist/*.d.ts (`import ... from "scs-ts/..."`), without
 * this repository's other adapters (which type req.session their own way). Each fixture starts
 * with `// @ts-nocheck` so the repository's program leaves it alone; here that line is dropped,
 * and the program must have no error in the fixtures (every `@ts-expect-error` still an error)
 * nor in the drop-ins' .d.ts files (skipLibCheck is off).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import ts from "typescript";

const root = resolve(import.meta.dirname, "../..");
const FIXTURES = [
  "dropin-express-session.ts",
  "dropin-koa-session.ts",
  "dropin-fastify-session.ts",
].map((name) => join(root, "test/types", name));
const OURS = [
  ...FIXTURES,
  ...["express-session", "koa-session", "fastify-session"].map((n) => join(root, `dist/${n}.d.ts`)),
];

function check(skipLibCheck: boolean): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2023.d.ts"],
    types: ["node"],
    strict: true,
    noEmit: true,
    esModuleInterop: true,
    skipLibCheck,
  };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (file) => {
    const text = read(file);
    if (text === undefined || !FIXTURES.includes(resolve(file))) return text;
    assert.ok(text.startsWith("// @ts-nocheck"), `${file} starts with // @ts-nocheck`);
    // The line stays (so line numbers do), no longer a directive.
    return text.replace("// @ts-nocheck", "// (nocheck dropped)");
  };
  const program = ts.createProgram(FIXTURES, options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file === undefined || OURS.includes(resolve(d.file.fileName)))
    .map((d) => {
      const where = d.file
        ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
        : "";
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
}

test("the drop-ins type the peers' session objects as the peers do, for applications and their libraries; their .d.ts files have no error without skipLibCheck", {
  timeout: 60_000,
}, () => {
  assert.ok(
    existsSync(join(root, "dist/express-session.d.ts")),
    "dist/ is missing: run npm run build first (npm test does)",
  );
  // One program, skipLibCheck off; only the fixtures' and the drop-ins' own errors count.
  assert.deepEqual(check(false), []);
});
