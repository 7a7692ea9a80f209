import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import { defaultCodec } from "../src/codec.ts";
import { CodecError } from "../src/errors.ts";

const deadline = new Date(1_700_086_400_000);

function roundTrip(values: Record<string, unknown>): Record<string, unknown> {
  const out = defaultCodec.decode(defaultCodec.encode(deadline, values));
  assert.deepStrictEqual(out.deadline, deadline);
  return out.values;
}

function refusal(values: Record<string, unknown>): string {
  try {
    defaultCodec.encode(deadline, values);
  } catch (err) {
    assert.ok(err instanceof CodecError, `expected CodecError, got ${String(err)}`);
    return err.message;
  }
  assert.fail("encode did not refuse");
}

function decodeError(bytes: Uint8Array): CodecError {
  try {
    defaultCodec.decode(bytes);
  } catch (err) {
    assert.ok(err instanceof CodecError, `expected CodecError, got ${String(err)}`);
    return err;
  }
  assert.fail("decode did not throw");
}

describe("default codec round-trips", () => {
  it("keeps the deadline, an invalid deadline included", () => {
    const bad = new Date(Number.NaN);
    const out = defaultCodec.decode(defaultCodec.encode(bad, {}));
    assert.ok(Number.isNaN(out.deadline.getTime()));
    assert.deepStrictEqual(roundTrip({}), {});
  });

  it("keeps strings, ASCII, multi-byte, astral, long and with lone surrogates", () => {
    const values = {
      empty: "",
      ascii: "hello",
      accents: "café déjà vu",
      cjk: "セッション",
      emoji: "👋🏽 hi",
      long: `${"a".repeat(5000)}é${"😀".repeat(3000)}`,
      loneHigh: "a\ud800b",
      loneLowLong: `${"x".repeat(100)}\udc00`,
      nul: "a\u0000b",
    };
    assert.deepStrictEqual(roundTrip(values), values);
  });

  it("keeps numbers, NaN, ±Infinity and -0 included", () => {
    const nums = [
      0,
      -0,
      1,
      127,
      128,
      -1,
      -128,
      2 ** 31 - 1,
      -(2 ** 31),
      2 ** 31,
      2 ** 53,
      -(2 ** 53),
      0.1,
      -1.5e-300,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      Number.NaN,
      Infinity,
      -Infinity,
    ];
    const out = roundTrip({ nums }).nums as number[];
    assert.equal(out.length, nums.length);
    for (const [i, n] of nums.entries()) {
      assert.ok(Object.is(out[i], n), `index ${i}: ${out[i]} !== ${n}`);
    }
  });

  it("keeps booleans, null and undefined (in arrays, objects and Maps)", () => {
    const values = {
      t: true,
      f: false,
      n: null,
      u: undefined,
      arr: [undefined, null, 1],
      m: new Map([[undefined, undefined]]),
    };
    const out = roundTrip(values);
    assert.deepStrictEqual(out, values);
    assert.ok(Object.hasOwn(out, "u"));
  });

  it("turns array holes into undefined", () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is tested
    const out = roundTrip({ a: [1, , 3] }).a as unknown[];
    assert.equal(out.length, 3);
    assert.ok(Object.hasOwn(out, 1));
    assert.equal(out[1], undefined);
  });

  it("keeps bigints of any size and sign", () => {
    const values = { a: 0n, b: 1n, c: -1n, d: 2n ** 200n + 7n, e: -(2n ** 64n), f: 255n, g: 256n };
    assert.deepStrictEqual(roundTrip(values), values);
  });

  it("keeps Dates, an invalid Date included", () => {
    const out = roundTrip({ d: new Date(0), e: new Date(-1e15), bad: new Date("nope") });
    assert.ok(out.d instanceof Date && out.d.getTime() === 0);
    assert.ok(out.e instanceof Date && out.e.getTime() === -1e15);
    assert.ok(out.bad instanceof Date && Number.isNaN(out.bad.getTime()));
  });

  it("gives a Uint8Array back for a Uint8Array and a Buffer for a Buffer, as copies", () => {
    const u = new Uint8Array(256).map((_, i) => i);
    const b = Buffer.from("binary \x00\xff data", "latin1");
    const empty = new Uint8Array(0);
    const bytes = defaultCodec.encode(deadline, { u, b, empty });
    const out = defaultCodec.decode(bytes).values;
    assert.equal(Object.getPrototypeOf(out.u), Uint8Array.prototype);
    assert.ok(Buffer.isBuffer(out.b));
    assert.deepStrictEqual(out.u, u);
    assert.deepStrictEqual(out.b, b);
    assert.deepStrictEqual(out.empty, empty);
    (out.u as Uint8Array)[0] = 99;
    assert.equal(defaultCodec.decode(bytes).values.u instanceof Uint8Array, true);
    assert.equal((defaultCodec.decode(bytes).values.u as Uint8Array)[0], 0);
  });

  it("keeps Maps (any keys) and Sets, in insertion order", () => {
    const values = {
      m: new Map<unknown, unknown>([
        ["a", 1],
        [2, "two"],
        [null, [1]],
        [new Date(5), new Set(["x"])],
      ]),
      s: new Set([3, 1, 2, "z", 1n]),
    };
    const out = roundTrip(values);
    assert.deepStrictEqual(out, values);
    assert.deepStrictEqual([...(out.s as Set<unknown>)], [3, 1, 2, "z", 1n]);
  });

  it("keeps plain and null-prototype objects, nested, with their prototypes", () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.k = { deep: [{ x: 1 }] };
    const values = {
      user: { id: 7, name: "Ann", tags: ["a"], meta: { a: { b: { c: {} } } } },
      bare,
    };
    const out = roundTrip(values);
    assert.deepStrictEqual(out, values);
    assert.equal(Object.getPrototypeOf(out.bare), null);
    assert.equal(Object.getPrototypeOf(out.user), Object.prototype);
  });

  it("keeps a null-prototype object as the session values", () => {
    const values = Object.create(null) as Record<string, unknown>;
    values.a = 1;
    const out = roundTrip(values);
    assert.equal(Object.getPrototypeOf(out), null);
    assert.equal(out.a, 1);
  });

  it("stores a shared (non-circular) object twice, as two copies", () => {
    const shared = { n: 1 };
    const out = roundTrip({ a: shared, b: shared });
    assert.deepStrictEqual(out.a, shared);
    assert.notEqual(out.a, out.b);
  });

  it("keeps 256 levels of nesting", () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 255; i++) deep = [deep];
    assert.deepStrictEqual(roundTrip({ deep }), { deep });
  });

  it("writes a magic byte and a format version first", () => {
    const bytes = defaultCodec.encode(deadline, {});
    assert.equal(bytes[0], 0xd3);
    assert.equal(bytes[1], 1);
  });
});

describe("default codec refuses what it cannot store, naming the key", () => {
  it("refuses a function with its key path", () => {
    assert.equal(
      refusal({ user: { greet() {} } }),
      'cannot encode value at "user.greet": function',
    );
  });

  it("refuses a symbol inside an array", () => {
    assert.equal(
      refusal({ list: [1, { s: Symbol("x") }] }),
      'cannot encode value at "list[1].s": symbol',
    );
  });

  it("refuses class instances and unsupported built-ins, naming the class", () => {
    class Cart {}
    assert.equal(
      refusal({ cart: new Cart() }),
      'cannot encode value at "cart": class instance (Cart)',
    );
    for (const v of [
      /x/,
      new Error("e"),
      new Int16Array(2),
      new String("s"),
      new WeakMap(),
      Promise.resolve(),
    ]) {
      assert.match(refusal({ v }), /^cannot encode value at "v": class instance \(\w+\)$/);
    }
    assert.match(refusal({ v: Object.create({}) }), /at "v": class instance/);
  });

  it("names Map values, Map keys and Set members in the path", () => {
    assert.equal(
      refusal({ m: new Map([["k", () => 1]]) }),
      'cannot encode value at "m["k"]": function',
    );
    assert.equal(
      refusal({ m: new Map([[Symbol("k"), 1]]) }),
      'cannot encode value at "m[key #0]": symbol',
    );
    assert.equal(refusal({ s: new Set([1, Symbol()]) }), 'cannot encode value at "s[1]": symbol');
  });

  it("refuses a circular reference clearly", () => {
    const a: Record<string, unknown> = { b: {} };
    (a.b as Record<string, unknown>).back = a;
    assert.equal(refusal({ a }), 'cannot encode value at "a.b.back": circular reference (to "a")');
    const self: Record<string, unknown> = {};
    self.me = self;
    assert.equal(
      refusal(self),
      'cannot encode value at "me": circular reference (to the session values)',
    );
    const arr: unknown[] = [];
    arr.push(new Map([["x", arr]]));
    assert.match(refusal({ arr }), /circular reference/);
  });

  it("refuses nesting deeper than 256 levels with a CodecError, not a RangeError", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    assert.match(refusal({ deep }), /nested deeper than 256 levels/);
  });

  it("refuses a deadline that is not a Date and values that are not a plain object", () => {
    assert.throws(() => defaultCodec.encode(1 as unknown as Date, {}), CodecError);
    assert.throws(
      () => defaultCodec.encode(deadline, null as unknown as Record<string, unknown>),
      CodecError,
    );
    assert.throws(
      () => defaultCodec.encode(deadline, new Map() as unknown as Record<string, unknown>),
      CodecError,
    );
  });

  it("still works after a refusal (no state left behind)", () => {
    refusal({ a: [{ b: [() => 0] }] });
    assert.deepStrictEqual(roundTrip({ a: [{ b: [1] }] }), { a: [{ b: [1] }] });
  });

  it("encodes correctly when a getter re-enters the codec", () => {
    const values = {
      get inner() {
        return defaultCodec.encode(deadline, { x: "inner" });
      },
      after: "outer",
    };
    const out = roundTrip(values);
    assert.equal(out.after, "outer");
    assert.deepStrictEqual(defaultCodec.decode(out.inner as Uint8Array).values, { x: "inner" });
  });
});

describe("default codec never pollutes prototypes", () => {
  it("keeps __proto__, constructor and prototype as plain own data properties", () => {
    const values = JSON.parse(
      '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "prototype": 1, "nested": {"__proto__": {"x": 1}}}',
    ) as Record<string, unknown>;
    const out = roundTrip(values);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepStrictEqual(Object.keys(out), ["__proto__", "constructor", "prototype", "nested"]);
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(out, "__proto__")?.value, {
      polluted: true,
    });
    const nested = out.nested as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(nested), Object.prototype);
    assert.ok(Object.hasOwn(nested, "__proto__"));
    assert.equal((nested as { x?: number }).x, undefined);
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
    assert.equal(Object.hasOwn(Object.prototype, "polluted"), false);
  });
});

describe("default codec rejects bytes it cannot read with a CodecError", () => {
  const good = defaultCodec.encode(deadline, {
    user: "ann",
    roles: ["a", "b"],
    at: new Date(3),
    big: 12345678901234567890n,
    m: new Map([[1, new Set([2])]]),
  });

  it("rejects empty, short and foreign bytes", () => {
    for (const bytes of [
      new Uint8Array(0),
      new Uint8Array(5),
      Buffer.from('{"json": true}'),
      Buffer.from([0xd3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, 0]),
    ]) {
      decodeError(bytes);
    }
    assert.match(decodeError(Buffer.from('{"a":1}xxxxxxxx')).message, /magic/);
    assert.match(
      decodeError(Buffer.from([0xd3, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, 0])).message,
      /version 9/,
    );
  });

  it("rejects every truncation of a valid encoding", () => {
    for (let n = 0; n < good.length; n++) decodeError(good.subarray(0, n));
  });

  it("rejects trailing bytes", () => {
    assert.match(decodeError(Buffer.concat([good, Buffer.from([0])])).message, /trailing/);
  });

  it("rejects values that are not an object, unknown tags and non-string keys", () => {
    const header = [0xd3, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    assert.match(decodeError(Buffer.from([...header, 0x81])).message, /not an object/);
    assert.match(
      decodeError(Buffer.from([...header, 0x09, 1, 0x81, 0x7f, 0])).message,
      /key is not a string/,
    );
    assert.match(
      decodeError(Buffer.from([...header, 0x09, 1, 0x06, 1, 0x61, 0x7f])).message,
      /unknown tag 0x7f/,
    );
  });

  it("rejects huge counts without allocating for them", () => {
    const header = [0xd3, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    const huge = [0xff, 0xff, 0xff, 0xff, 0x0f];
    assert.match(
      decodeError(Buffer.from([...header, 0x09, 1, 0x06, 1, 0x61, 0x08, ...huge])).message,
      /count/,
    );
    assert.match(
      decodeError(Buffer.from([...header, 0x09, 1, 0x06, ...huge, 0])).message,
      /truncated/,
    );
    assert.match(
      decodeError(Buffer.from([...header, 0x09, 1, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))
        .message,
      /length out of range/,
    );
  });

  it("rejects nesting deeper than 256 levels without overflowing the stack", () => {
    const header = [0xd3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, 1, 0x06, 1, 0x61];
    const deep = Buffer.from([
      ...header,
      ...new Array(100_000).fill(0x08).flatMap((t) => [t, 1]),
      0,
    ]);
    assert.match(decodeError(deep).message, /nested deeper than 256/);
  });

  it("rejects input that is not a Uint8Array", () => {
    decodeError("abc" as unknown as Uint8Array);
    decodeError(null as unknown as Uint8Array);
  });

  it("decodes from a plain Uint8Array view at an offset", () => {
    const backing = new Uint8Array(good.length + 7);
    backing.set(good, 7);
    const view = new Uint8Array(backing.buffer, 7, good.length);
    assert.deepStrictEqual(defaultCodec.decode(view), defaultCodec.decode(good));
  });
});
