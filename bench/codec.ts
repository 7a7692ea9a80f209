/**
 * Codec benchmark: the default codec against `node:v8` (with the checks a session codec
 * needs), JSON, msgpackr and cbor-x, on session-shaped data. Codecs run interleaved in each
 * round; the table shows medians over the rounds and ratios against JSON from the same run.
 *
 * Run: `npx tsx bench/codec.ts` (add `--quick` for a short run).
 * @module
 */
import { Buffer } from "node:buffer";
import { pathToFileURL } from "node:url";
import * as v8 from "node:v8";
import { decode as cborDecode, encode as cborEncode } from "cbor-x";
import { pack, unpack } from "msgpackr";
import { type Codec, defaultCodec } from "../src/codec.ts";
import { CodecError } from "../src/errors.ts";

/** The check `node:v8` needs before it may store session data: the same refusals as ours. */
function check(v: unknown, path: string, depth: number, seen: Set<object>): void {
  if (v === null) return;
  const t = typeof v;
  if (t === "function" || t === "symbol") {
    throw new CodecError(`cannot encode value at "${path}": ${t}`);
  }
  if (t !== "object") return;
  const o = v as object;
  if (depth > 256 || seen.has(o)) throw new CodecError(`cannot encode value at "${path}"`);
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null) {
    seen.add(o);
    for (const k of Object.keys(o)) {
      check((o as Record<string, unknown>)[k], path ? `${path}.${k}` : k, depth + 1, seen);
    }
    seen.delete(o);
  } else if (proto === Array.prototype) {
    seen.add(o);
    const a = o as unknown[];
    for (let i = 0; i < a.length; i++) check(a[i], `${path}[${i}]`, depth + 1, seen);
    seen.delete(o);
  } else if (proto === Map.prototype) {
    seen.add(o);
    for (const [k, x] of o as Map<unknown, unknown>) {
      check(k, path, depth + 1, seen);
      check(x, path, depth + 1, seen);
    }
    seen.delete(o);
  } else if (proto === Set.prototype) {
    seen.add(o);
    for (const x of o as Set<unknown>) check(x, path, depth + 1, seen);
    seen.delete(o);
  } else if (
    proto !== Date.prototype &&
    proto !== Uint8Array.prototype &&
    proto !== Buffer.prototype
  ) {
    throw new CodecError(`cannot encode value at "${path}": class instance`);
  }
}

/** A session codec on `node:v8`: check, then serialize; deserialize inside try/catch. */
const v8Codec: Codec = {
  encode(deadline, values) {
    check(values, "", 0, new Set());
    return v8.serialize([deadline.getTime(), values]);
  },
  decode(data) {
    let out: unknown;
    try {
      out = v8.deserialize(data);
    } catch (err) {
      throw new CodecError("cannot decode session data", { cause: err });
    }
    if (!Array.isArray(out)) throw new CodecError("cannot decode session data");
    return { deadline: new Date(out[0] as number), values: out[1] as Record<string, unknown> };
  },
};

/** JSON, for reference: loses Date, bigint, Map, Set, bytes, NaN, -0 and undefined. */
const jsonCodec: Codec = {
  encode(deadline, values) {
    return Buffer.from(JSON.stringify([deadline.getTime(), values]));
  },
  decode(data) {
    const [d, values] = JSON.parse(Buffer.from(data).toString()) as [
      number,
      Record<string, unknown>,
    ];
    return { deadline: new Date(d), values };
  },
};

const msgpackrCodec: Codec = {
  encode: (deadline, values) => pack([deadline.getTime(), values]),
  decode(data) {
    const [d, values] = unpack(data) as [number, Record<string, unknown>];
    return { deadline: new Date(d), values };
  },
};

const cborCodec: Codec = {
  encode: (deadline, values) => cborEncode([deadline.getTime(), values]),
  decode(data) {
    const [d, values] = cborDecode(data) as [number, Record<string, unknown>];
    return { deadline: new Date(d), values };
  },
};

const CODECS: [string, Codec][] = [
  ["scs-ts default", defaultCodec],
  ["node:v8 + checks", v8Codec],
  ["JSON (reference)", jsonCodec],
  ["msgpackr (reference)", msgpackrCodec],
  ["cbor-x (reference)", cborCodec],
];

/** Session data as an app keeps it: who, what they may do, since when, a flash, a cart. */
function typicalSession(): Record<string, unknown> {
  return {
    userId: "u_8f14e45fceea167a",
    roles: ["customer", "beta"],
    signedInAt: new Date(1_700_000_000_000),
    flash: "Your address was saved.",
    cart: [
      { id: "sku-10442", qty: 2, price: 19.99 },
      { id: "sku-20931", qty: 1, price: 5.5 },
      { id: "sku-31007", qty: 3, price: 112 },
    ],
  };
}

const CASES: [string, () => Record<string, unknown>][] = [
  ["tiny (userId only)", () => ({ userId: 42 })],
  ["typical (user, roles, Date, flash, 3-item cart)", typicalSession],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

let sink = 0;

/** ns per call of `fn`, over `iterations` calls. */
function time(iterations: number, fn: () => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start) / iterations;
}

/**
 * Runs the codec benchmark and returns a markdown table per case.
 * @param opts.quick fewer iterations per round (still 5 rounds) for a fast smoke run.
 * @returns markdown: one table per data shape, medians of the rounds, ratios vs JSON.
 */
export async function runCodecBench(opts: { quick: boolean }): Promise<string> {
  const rounds = opts.quick ? 5 : 9;
  const iterations = opts.quick ? 20_000 : 200_000;
  const deadline = new Date(1_700_086_400_000);
  let md = "";
  for (const [caseName, make] of CASES) {
    const values = make();
    const enc = new Map<string, number[]>();
    const dec = new Map<string, number[]>();
    const both = new Map<string, number[]>();
    const sizes = new Map<string, number>();
    for (const [name, codec] of CODECS) {
      const bytes = codec.encode(deadline, values);
      sizes.set(name, bytes.length);
      time(iterations / 4, () => {
        sink += codec.decode(codec.encode(deadline, values)).deadline.getTime();
      });
      enc.set(name, []);
      dec.set(name, []);
      both.set(name, []);
    }
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no codec always runs first.
      for (let j = 0; j < CODECS.length; j++) {
        const [name, codec] = CODECS[(j + r) % CODECS.length]!;
        const bytes = codec.encode(deadline, values);
        enc
          .get(name)!
          .push(time(iterations, () => (sink += codec.encode(deadline, values).length)));
        dec
          .get(name)!
          .push(time(iterations, () => (sink += codec.decode(bytes).deadline.getTime())));
        both
          .get(name)!
          .push(
            time(
              iterations,
              () => (sink += codec.decode(codec.encode(deadline, values)).deadline.getTime()),
            ),
          );
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const jsonBoth = median(both.get("JSON (reference)")!);
    const jsonSize = sizes.get("JSON (reference)")!;
    md += `\n#### ${caseName}\n\n`;
    md +=
      "| codec | encode ns | decode ns | encode+decode ns | ops/s (enc+dec) | vs JSON time | bytes | vs JSON bytes |\n";
    md += "|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const [name] of CODECS) {
      const b = median(both.get(name)!);
      const size = sizes.get(name)!;
      md += `| ${name} | ${median(enc.get(name)!).toFixed(0)} | ${median(dec.get(name)!).toFixed(0)} | ${b.toFixed(0)} | ${Math.round(1e9 / b).toLocaleString("en-US")} | ${(b / jsonBoth).toFixed(2)}× | ${size} | ${(size / jsonSize).toFixed(2)}× |\n`;
    }
  }
  md += `\nMedians of ${rounds} rounds × ${iterations.toLocaleString("en-US")} calls, codecs interleaved; Node ${process.version}. JSON, msgpackr and cbor-x do not keep Date/bigint/Map/Set/-0 as the default codec does (shown for scale only).\n`;
  if (sink === 0.5) console.log(""); // keep the work observable
  return md;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(await runCodecBench({ quick: process.argv.includes("--quick") }));
}
