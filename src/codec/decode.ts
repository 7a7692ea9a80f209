/**
 * Decoder of the default session codec. Every read is bounds-checked, every length is checked
 * against the bytes left before anything is allocated, nesting is capped, and keys are
 * defined as own data properties, so hostile bytes give a `CodecError` or harmless data.
 * @module
 */
import { Buffer } from "node:buffer";
import { CodecError } from "../errors.ts";
import { defineOwnData } from "../own-data.ts";
import { HEADER_SIZE, LITTLE_ENDIAN, MAGIC, MAX_DEPTH, Tag, VERSION } from "./format.ts";

const EMPTY = new Uint8Array(0);
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

/** Strings up to this many bytes are decoded by hand when ASCII (past it, native is faster). */
const SHORT_STRING = 10;

class Decoder {
  data: Uint8Array = EMPTY;
  /** `data` as a Buffer, for native UTF-8 decoding; made on first use (see {@link buffer}). */
  buf: Buffer | undefined;
  pos = 0;
  end = 0;

  fail(reason: string): never {
    throw new CodecError(`cannot decode session data: ${reason} at byte ${this.pos}`);
  }

  decode(data: Uint8Array): { deadline: Date; values: Record<string, unknown> } {
    this.data = data;
    this.buf = data instanceof Buffer ? data : undefined;
    this.pos = 0;
    this.end = data.length;
    if (data.length <= HEADER_SIZE) this.fail("too short");
    if (data[0] !== MAGIC) this.fail("not scs-ts session data (bad magic byte)");
    if (data[1] !== VERSION) this.fail(`unknown format version ${data[1]}`);
    this.pos = 2;
    const deadline = new Date(this.f64());
    const tag = data[this.pos];
    if (tag !== Tag.OBJECT && tag !== Tag.NULL_OBJECT) this.fail("values are not an object");
    const values = this.value(0) as Record<string, unknown>;
    if (this.pos !== this.end) this.fail("trailing bytes");
    return { deadline, values };
  }

  /** `data` as a Buffer: most sessions hold only short strings and never need one. */
  buffer(): Buffer {
    const data = this.data;
    this.buf ??= Buffer.from(data.buffer, data.byteOffset, data.length);
    return this.buf;
  }

  need(n: number): void {
    if (n > this.end - this.pos) this.fail("truncated");
  }

  f64(): number {
    this.need(8);
    const data = this.data;
    let p = this.pos;
    if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) f64Bytes[i] = data[p++]!;
    else for (let i = 7; i >= 0; i--) f64Bytes[i] = data[p++]!;
    this.pos = p;
    return f64[0]!;
  }

  varuint(): number {
    const data = this.data;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) this.fail("truncated");
      const b = data[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (result > 0xffffffff) this.fail("length out of range");
        return result;
      }
      mul *= 128;
    }
    return this.fail("length out of range");
  }

  /** A count of items that each take at least `min` bytes: never more than the bytes left. */
  count(min: number): number {
    const n = this.varuint();
    if (n * min > this.end - this.pos) this.fail("count larger than the data");
    return n;
  }

  value(depth: number): unknown {
    if (this.pos >= this.end) this.fail("truncated");
    const tag = this.data[this.pos++]!;
    if (tag >= Tag.FIXINT) return tag - Tag.FIXINT;
    switch (tag) {
      case Tag.NULL:
        return null;
      case Tag.UNDEFINED:
        return undefined;
      case Tag.FALSE:
        return false;
      case Tag.TRUE:
        return true;
      case Tag.INT: {
        const z = this.varuint();
        return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      }
      case Tag.FLOAT:
        return this.f64();
      case Tag.STRING:
        return this.utf8();
      case Tag.STRING16:
        return this.utf16();
      case Tag.DATE:
        return new Date(this.f64());
      case Tag.BYTES:
        return this.bytes(false);
      case Tag.BUFFER:
        return this.bytes(true);
      case Tag.BIGINT_POS:
        return this.bigint(false);
      case Tag.BIGINT_NEG:
        return this.bigint(true);
    }
    if (depth >= MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    switch (tag) {
      case Tag.OBJECT:
        return this.object({}, depth);
      case Tag.NULL_OBJECT:
        return this.object(Object.create(null) as object, depth);
      case Tag.ARRAY: {
        const n = this.count(1);
        const a: unknown[] = [];
        for (let i = 0; i < n; i++) a.push(this.value(depth + 1));
        return a;
      }
      case Tag.MAP: {
        const n = this.count(2);
        const m = new Map<unknown, unknown>();
        for (let i = 0; i < n; i++) {
          const k = this.value(depth + 1);
          m.set(k, this.value(depth + 1));
        }
        return m;
      }
      case Tag.SET: {
        const n = this.count(1);
        const s = new Set<unknown>();
        for (let i = 0; i < n; i++) s.add(this.value(depth + 1));
        return s;
      }
    }
    this.pos--;
    return this.fail(`unknown tag 0x${tag.toString(16).padStart(2, "0")}`);
  }

  object(o: object, depth: number): object {
    const n = this.count(3);
    const rec = o as Record<string, unknown>;
    for (let i = 0; i < n; i++) {
      if (this.pos >= this.end) this.fail("truncated");
      const tag = this.data[this.pos++];
      let key: string;
      if (tag === Tag.STRING) key = this.utf8();
      else if (tag === Tag.STRING16) key = this.utf16();
      else {
        this.pos--;
        return this.fail("object key is not a string");
      }
      const v = this.value(depth + 1);
      if (key === "__proto__") {
        // Assignment would set the prototype; define an own data property instead.
        defineOwnData(o, key, v);
      } else {
        rec[key] = v;
      }
    }
    return o;
  }

  utf8(): string {
    const n = this.varuint();
    this.need(n);
    const data = this.data;
    const start = this.pos;
    const end = start + n;
    if (n <= SHORT_STRING) {
      let s = "";
      let p = start;
      for (; p < end; p++) {
        const c = data[p]!;
        if (c >= 0x80) break;
        s += String.fromCharCode(c);
      }
      if (p === end) {
        this.pos = end;
        return s;
      }
    }
    this.pos = end;
    return this.buffer().toString("utf8", start, end);
  }

  utf16(): string {
    const n = this.varuint();
    this.need(n * 2);
    const data = this.data;
    let s = "";
    let p = this.pos;
    for (let i = 0; i < n; i++, p += 2) s += String.fromCharCode(data[p]! | (data[p + 1]! << 8));
    this.pos = p;
    return s;
  }

  bytes(asBuffer: boolean): Uint8Array {
    const n = this.varuint();
    this.need(n);
    const src = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    // Always a copy: the result must not alias (or keep alive) the stored bytes.
    const out = asBuffer ? Buffer.allocUnsafe(n) : new Uint8Array(n);
    out.set(src);
    return out;
  }

  bigint(neg: boolean): bigint {
    const n = this.varuint();
    this.need(n);
    if (n === 0) return 0n;
    const v = BigInt(`0x${this.buffer().toString("hex", this.pos, this.pos + n)}`);
    this.pos += n;
    return neg ? -v : v;
  }
}

let shared: Decoder | undefined = new Decoder();

/**
 * Decodes bytes made by `encodeSession`. Throws `CodecError` (and nothing else) for bytes it
 * cannot read: wrong magic or version, truncation, bad tags, trailing bytes, excess nesting.
 */
export function decodeSession(data: Uint8Array): {
  deadline: Date;
  values: Record<string, unknown>;
} {
  if (!(data instanceof Uint8Array)) {
    throw new CodecError("cannot decode session data: not a Uint8Array");
  }
  const dec = shared ?? new Decoder();
  shared = undefined;
  try {
    return dec.decode(data);
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError("cannot decode session data", { cause: err });
  } finally {
    dec.data = EMPTY;
    dec.buf = undefined;
    shared = dec;
  }
}
