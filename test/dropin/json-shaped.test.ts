/**
 * The drop-ins' fallback for values the codec refuses: a value with toJSON is stored as its
 * JSON (as the peers' JSON stores do); everything else is left for the codec to refuse, and no
 * key a client could choose changes a prototype.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jsonShaped } from "../../src/adapters/json-shaped.ts";
import { defaultCodec } from "../../src/codec.ts";
import { CodecError } from "../../src/errors.ts";

class Id {
  constructor(readonly hex: string) {}
  toJSON(key: string): string {
    return `${key}:${this.hex}`;
  }
}
class NoJson {
  readonly x = 1;
}

describe("jsonShaped", () => {
  it("returns the same object when no value has toJSON (the codec's refusal then stands)", () => {
    const values = { a: 1, b: [1, { c: new Date(0) }], d: new Map([[1, 2]]), e: new NoJson() };
    assert.equal(jsonShaped(values), values);
    assert.throws(() => defaultCodec.encode(new Date(0), values), CodecError);
  });

  it("replaces values with toJSON at any depth by their result, called with the key as JSON does", () => {
    const values = { user: { _id: new Id("ab") }, list: [new Id("cd")] };
    const shaped = jsonShaped(values);
    assert.deepEqual(shaped, { user: { _id: "_id:ab" }, list: ["0:cd"] });
    assert.deepEqual(values.user._id, new Id("ab"), "the application's objects are not changed");
    assert.doesNotThrow(() => defaultCodec.encode(new Date(0), shaped));
  });

  it("keeps Buffer and Date as the codec stores them (not their toJSON)", () => {
    const values = { b: Buffer.from("hi"), d: new Date(5), x: new Id("1") };
    const shaped = jsonShaped(values);
    assert.ok(Buffer.isBuffer(shaped.b));
    assert.ok(shaped.d instanceof Date);
  });

  it('a "__proto__" key stays an own data key of the copy; no prototype changes', () => {
    const values = JSON.parse('{"__proto__": {"polluted": true}, "x": null}') as Record<
      string,
      unknown
    >;
    values.x = new Id("1");
    const shaped = jsonShaped(values);
    assert.equal(Object.getPrototypeOf(shaped), Object.prototype);
    assert.ok(Object.hasOwn(shaped, "__proto__"));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("a cycle is left for the codec to name; a toJSON that throws throws", () => {
    const cyclic: Record<string, unknown> = { id: new Id("1") };
    cyclic.self = cyclic;
    assert.throws(() => defaultCodec.encode(new Date(0), jsonShaped(cyclic)), CodecError);
    const bad = {
      toJSON() {
        throw new Error("toJSON failed");
      },
    };
    assert.throws(
      () => jsonShaped({ v: Object.setPrototypeOf(bad, NoJson.prototype) }),
      /toJSON failed/,
    );
  });
});

describe("jsonShaped, plain objects", () => {
  it("a plain object's own toJSON is used, as JSON.stringify does; the data's own keys are never called", () => {
    const data = { when: { toJSON: () => "2026-12-03" }, toJSON: () => "not the data" };
    const shaped = jsonShaped(data);
    assert.equal(shaped.when, "2026-12-03");
    assert.equal(typeof shaped.toJSON, "function", "a top-level key is a value, left to the codec");
  });
});
