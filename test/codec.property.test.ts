import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import fc from "fast-check";
import { defaultCodec } from "../src/codec.ts";
import { CodecError } from "../src/errors.ts";

/** Fixed seed so CI is repeatable; FUZZ=1 (npm run fuzz) runs far more cases. */
const FUZZ = process.env.FUZZ === "1";
const params = (runs: number): fc.Parameters<unknown> => ({
  seed: 42,
  numRuns: FUZZ ? runs * 50 : runs,
});

const deadline = new Date(1_700_086_400_000);

/** Deep equality that tells apart -0/0, NaN, prototypes, Buffer/Uint8Array, order in Map/Set. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a !== "object" || a === null || b === null) return Object.is(a, b);
  const o = b as object;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(o)) return false;
  if (a instanceof Date) return Object.is(a.getTime(), (o as Date).getTime());
  if (a instanceof Uint8Array) return Buffer.compare(a, o as Uint8Array) === 0;
  if (a instanceof Map || a instanceof Set) {
    const x = [...(a as Map<unknown, unknown>).entries()];
    const y = [...(o as Map<unknown, unknown>).entries()];
    return x.length === y.length && x.every((e, i) => same(e[0], y[i]![0]) && same(e[1], y[i]![1]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(o);
  if (ka.length !== kb.length || Array.isArray(a) !== Array.isArray(o)) return false;
  return ka.every(
    (k, i) =>
      kb[i] === k &&
      Object.hasOwn(o, k) &&
      same((a as Record<string, unknown>)[k], (o as Record<string, unknown>)[k]),
  );
}

const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  // Any UTF-16 code unit, lone surrogates included.
  fc.string({ unit: fc.nat(0xffff).map((c) => String.fromCharCode(c)) }),
);
const key = fc.oneof(
  { weight: 5, arbitrary: anyString },
  { weight: 1, arbitrary: fc.constantFrom("__proto__", "constructor", "prototype", "0", "") },
);

const leaf = fc.oneof(
  anyString,
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, Number.NaN, Infinity, -Infinity, 127, 128, -1),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.date({ noInvalidDate: false }),
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
);

const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(key, tie("value"), { maxKeys: 5 }),
    fc.array(fc.tuple(tie("value"), tie("value")), { maxLength: 4 }).map((e) => new Map(e)),
    fc.array(tie("value"), { maxLength: 4 }).map((a) => new Set(a)),
  ),
}));
const values = fc.dictionary(key, value, { maxKeys: 8 });

function prototypesSnapshot(): string {
  return [Object.prototype, Array.prototype, Map.prototype, Set.prototype, Date.prototype]
    .map((p) => Reflect.ownKeys(p).map(String).join(","))
    .join("|");
}

function decodeOrCodecError(bytes: Uint8Array): void {
  let out: ReturnType<typeof defaultCodec.decode>;
  try {
    out = defaultCodec.decode(bytes);
  } catch (err) {
    if (err instanceof CodecError) return;
    throw err;
  }
  // Whatever decodes is data the codec can store again.
  defaultCodec.encode(out.deadline, out.values);
}

describe("default codec properties", () => {
  it("round-trips every supported value", () => {
    fc.assert(
      fc.property(values, fc.date({ noInvalidDate: false }), (v, d) => {
        const out = defaultCodec.decode(defaultCodec.encode(d, v));
        assert.ok(same(out.deadline, d), "deadline differs");
        assert.ok(same(out.values, v), "values differ");
      }),
      params(3000),
    );
  });

  it("refuses an unsupported value, naming its key path", () => {
    const segment = fc.oneof(
      fc.string({ minLength: 1, maxLength: 8 }).map((k) => ({ key: k })),
      fc.nat(4).map((i) => ({ index: i })),
    );
    const bad = fc.constantFrom(
      [() => 1, "function"],
      [Symbol("s"), "symbol"],
      [new (class Widget {})(), "class instance (Widget)"],
      [new WeakMap(), "class instance (WeakMap)"],
      [/re/, "class instance (RegExp)"],
    );
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.array(segment, { maxLength: 6 }),
        bad,
        (top, path, [badValue, what]) => {
          let node: unknown = badValue;
          let shown = "";
          for (let i = path.length - 1; i >= 0; i--) {
            const seg = path[i]!;
            if ("key" in seg) {
              node = Object.fromEntries([
                [seg.key, node],
                ["ok", 1],
              ]);
              shown = `.${seg.key}${shown}`;
            } else {
              const arr: unknown[] = new Array(seg.index + 1).fill("ok");
              arr[seg.index] = node;
              node = arr;
              shown = `[${seg.index}]${shown}`;
            }
          }
          const v = Object.fromEntries([
            [top, node],
            ["fine", [1, "two"]],
          ]);
          assert.throws(
            () => defaultCodec.encode(deadline, v),
            (err: unknown) =>
              err instanceof CodecError &&
              err.message === `cannot encode value at "${top}${shown}": ${what}`,
          );
        },
      ),
      params(2000),
    );
  });

  it("decodes arbitrary bytes or throws CodecError, leaving prototypes unchanged", () => {
    const before = prototypesSnapshot();
    const header = Buffer.from([0xd3, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          // Past the header, so the value decoder itself is exercised.
          fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.concat([header, u])),
          fc
            .uint8Array({ maxLength: 200 })
            .map((u) => Buffer.concat([header, Buffer.from([0x09, u.length & 0x1f]), u])),
        ),
        (bytes) => {
          decodeOrCodecError(bytes);
        },
      ),
      params(5000),
    );
    assert.equal(prototypesSnapshot(), before);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  it("decodes mutated valid encodings or throws CodecError, leaving prototypes unchanged", () => {
    const before = prototypesSnapshot();
    const mutation = fc.record({
      op: fc.constantFrom("set", "insert", "delete", "truncate"),
      at: fc.nat(),
      byte: fc.nat(255),
    });
    fc.assert(
      fc.property(values, fc.array(mutation, { minLength: 1, maxLength: 4 }), (v, muts) => {
        const bytes = [...defaultCodec.encode(deadline, v)];
        for (const { op, at, byte } of muts) {
          const i = at % (bytes.length + 1);
          if (op === "set") bytes[i] = byte;
          else if (op === "insert") bytes.splice(i, 0, byte);
          else if (op === "delete") bytes.splice(i, 1);
          else bytes.length = i;
        }
        decodeOrCodecError(Uint8Array.from(bytes));
      }),
      params(5000),
    );
    assert.equal(prototypesSnapshot(), before);
  });
});
