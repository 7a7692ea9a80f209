/**
 * Encoder of the default session codec: one pass that checks and writes at the same time,
 * into a scratch buffer reused across calls. See `format.ts` for the layout.
 * @module
 */
import { Buffer } from "node:buffer";
import { CodecError } from "../errors.ts";
import { LITTLE_ENDIAN, MAGIC, MAX_DEPTH, MAX_SIZE, Tag, VERSION } from "./format.ts";
import {
  formatPath,
  type PathKind,
  SEG_INDEX,
  SEG_KEY,
  SEG_MAP_KEY,
  SEG_MAP_VALUE,
} from "./path.ts";

const INITIAL_SIZE = 8192;
/** A scratch buffer grown past this is dropped after the call instead of kept. */
const KEEP_SIZE = 1024 * 1024;

/** `String.prototype.isWellFormed` (Node 20+), not yet in the ES2023 lib typings. */
type WellFormed = string & { isWellFormed(): boolean };

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

class Encoder {
  buf: Buffer = Buffer.allocUnsafeSlow(INITIAL_SIZE);
  pos = 0;
  busy = false;
  /** Deepest level written during this call, for the cleanup. */
  top = 0;
  /** For each depth, the key that leads one level down, and what kind of key it is. */
  readonly segs: unknown[] = new Array(MAX_DEPTH + 1).fill(undefined);
  readonly kinds = new Uint8Array(MAX_DEPTH + 1);
  /** For each depth, the container being written there (to tell a cycle from deep data). */
  readonly objs: unknown[] = new Array(MAX_DEPTH + 1).fill(undefined);

  encode(deadline: Date, values: Record<string, unknown>): Buffer {
    if (!(deadline instanceof Date)) {
      throw new CodecError(`cannot encode session: deadline is not a Date (${describe(deadline)})`);
    }
    if (values === null || typeof values !== "object") {
      throw new CodecError(`cannot encode session: values is not an object (${describe(values)})`);
    }
    const proto: unknown = Object.getPrototypeOf(values);
    if (proto !== Object.prototype && proto !== null) {
      throw new CodecError(
        `cannot encode session: values is not a plain object (${describe(values)})`,
      );
    }
    this.pos = 0;
    try {
      const buf = this.buf;
      buf[0] = MAGIC;
      buf[1] = VERSION;
      this.pos = 2;
      this.f64(deadline.getTime());
      this.object(values, proto === null ? Tag.NULL_OBJECT : Tag.OBJECT, 0);
      const out = Buffer.allocUnsafe(this.pos);
      this.buf.copy(out, 0, 0, this.pos);
      return out;
    } catch (err) {
      if (err instanceof RangeError && !(err instanceof CodecError)) {
        // The caller's own stack was already nearly full; say so rather than crash.
        throw new CodecError("cannot encode session: nesting too deep for the call stack", {
          cause: err,
        });
      }
      throw err;
    } finally {
      // Drop references to the caller's objects (a thrown error leaves some behind).
      for (let d = 0; d <= this.top; d++) this.objs[d] = this.segs[d] = undefined;
      this.top = 0;
      if (this.buf.length > KEEP_SIZE) this.buf = Buffer.allocUnsafeSlow(INITIAL_SIZE);
    }
  }

  grow(need: number): void {
    const want = this.pos + need;
    if (want > MAX_SIZE) {
      throw new CodecError(`cannot encode session: larger than ${MAX_SIZE} bytes`);
    }
    let size = this.buf.length * 2;
    while (size < want) size *= 2;
    const next = Buffer.allocUnsafeSlow(Math.min(size, MAX_SIZE));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  f64(n: number): void {
    if (this.pos + 8 > this.buf.length) this.grow(8);
    f64[0] = n;
    const buf = this.buf;
    let p = this.pos;
    if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) buf[p++] = f64Bytes[i]!;
    else for (let i = 7; i >= 0; i--) buf[p++] = f64Bytes[i]!;
    this.pos = p;
  }

  varuint(n: number): void {
    if (this.pos + 5 > this.buf.length) this.grow(5);
    const buf = this.buf;
    while (n > 0x7f) {
      buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[this.pos++] = n;
  }

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case "string":
        this.string(v);
        break;
      case "number":
        this.number(v);
        break;
      case "boolean":
        this.byte(v ? Tag.TRUE : Tag.FALSE);
        break;
      case "undefined":
        this.byte(Tag.UNDEFINED);
        break;
      case "bigint":
        this.bigint(v);
        break;
      case "object":
        if (v === null) this.byte(Tag.NULL);
        else this.container(v, depth);
        break;
      default:
        // function, symbol
        this.refuse(depth, typeof v);
    }
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = b;
  }

  number(v: number): void {
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      if (v >= 0 && v < 128) {
        this.byte(Tag.FIXINT | v);
      } else {
        this.byte(Tag.INT);
        this.varuint(((v << 1) ^ (v >> 31)) >>> 0);
      }
    } else {
      this.byte(Tag.FLOAT);
      this.f64(v);
    }
  }

  string(s: string): void {
    const n = s.length;
    // Room for tag, a length of up to 5 bytes, and 3 UTF-8 bytes per UTF-16 unit
    // (measured exactly for long strings, so the scratch buffer does not balloon).
    const max = n < 0x4000 ? n * 3 : Buffer.byteLength(s, "utf8");
    if (this.pos + max + 6 > this.buf.length) this.grow(max + 6);
    const buf = this.buf;
    const start = this.pos;
    buf[start] = Tag.STRING;
    if (max < 128) {
      // Short: encode by hand (cheaper than a native call), length fits one byte.
      let p = start + 2;
      for (let i = 0; i < n; i++) {
        let c = s.charCodeAt(i);
        if (c < 0x80) {
          buf[p++] = c;
        } else if (c < 0x800) {
          buf[p++] = 0xc0 | (c >> 6);
          buf[p++] = 0x80 | (c & 0x3f);
        } else if (c >= 0xd800 && c <= 0xdfff) {
          const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0;
          if (d < 0xdc00 || d > 0xdfff) {
            this.pos = start;
            this.string16(s);
            return;
          }
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buf[p++] = 0xf0 | (c >> 18);
          buf[p++] = 0x80 | ((c >> 12) & 0x3f);
          buf[p++] = 0x80 | ((c >> 6) & 0x3f);
          buf[p++] = 0x80 | (c & 0x3f);
        } else {
          buf[p++] = 0xe0 | (c >> 12);
          buf[p++] = 0x80 | ((c >> 6) & 0x3f);
          buf[p++] = 0x80 | (c & 0x3f);
        }
      }
      buf[start + 1] = p - start - 2;
      this.pos = p;
      return;
    }
    if (!(s as WellFormed).isWellFormed()) {
      this.string16(s);
      return;
    }
    // Long: reserve a padded length as wide as the worst case, write, then fill it in.
    let width = 1;
    for (let m = max; m > 0x7f; m >>>= 7) width++;
    const body = start + 1 + width;
    const len = buf.write(s, body, max, "utf8");
    let p = start + 1;
    let m = len;
    for (let i = 1; i < width; i++) {
      buf[p++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    buf[p] = m;
    this.pos = body + len;
  }

  string16(s: string): void {
    const n = s.length;
    this.byte(Tag.STRING16);
    this.varuint(n);
    if (this.pos + n * 2 > this.buf.length) this.grow(n * 2);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      buf[p++] = c & 0xff;
      buf[p++] = c >> 8;
    }
    this.pos = p;
  }

  bigint(v: bigint): void {
    const neg = v < 0n;
    let hex = (neg ? -v : v).toString(16);
    if (hex.length & 1) hex = `0${hex}`;
    const n = hex.length >> 1;
    this.byte(neg ? Tag.BIGINT_NEG : Tag.BIGINT_POS);
    this.varuint(n);
    if (this.pos + n > this.buf.length) this.grow(n);
    this.pos += this.buf.write(hex, this.pos, n, "hex");
  }

  bytes(tag: number, v: Uint8Array): void {
    this.byte(tag);
    this.varuint(v.length);
    if (this.pos + v.length > this.buf.length) this.grow(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  container(v: object, depth: number): void {
    if (depth >= MAX_DEPTH) this.tooDeep(v, depth);
    if (depth > this.top) this.top = depth;
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Object.prototype) this.object(v, Tag.OBJECT, depth);
    else if (proto === Array.prototype) this.array(v as unknown[], depth);
    else if (proto === Date.prototype) {
      this.byte(Tag.DATE);
      this.f64((v as Date).getTime());
    } else if (proto === null) this.object(v, Tag.NULL_OBJECT, depth);
    else if (proto === Buffer.prototype) this.bytes(Tag.BUFFER, v as Buffer);
    else if (proto === Uint8Array.prototype) this.bytes(Tag.BYTES, v as Uint8Array);
    else if (proto === Map.prototype) this.map(v as Map<unknown, unknown>, depth);
    else if (proto === Set.prototype) this.set(v as Set<unknown>, depth);
    else this.refuse(depth, describe(v));
  }

  object(o: object, tag: number, depth: number): void {
    this.objs[depth] = o;
    const keys = Object.keys(o);
    const n = keys.length;
    this.byte(tag);
    this.varuint(n);
    this.kinds[depth] = SEG_KEY;
    const rec = o as Record<string, unknown>;
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      this.string(k);
      this.segs[depth] = k;
      this.value(rec[k], depth + 1);
    }
  }

  array(a: unknown[], depth: number): void {
    this.objs[depth] = a;
    const n = a.length;
    this.byte(Tag.ARRAY);
    this.varuint(n);
    this.kinds[depth] = SEG_INDEX;
    for (let i = 0; i < n; i++) {
      this.segs[depth] = i;
      this.value(a[i], depth + 1);
    }
  }

  map(m: Map<unknown, unknown>, depth: number): void {
    this.objs[depth] = m;
    this.byte(Tag.MAP);
    this.varuint(m.size);
    let i = 0;
    for (const [k, v] of m) {
      this.kinds[depth] = SEG_MAP_KEY;
      this.segs[depth] = i++;
      this.value(k, depth + 1);
      this.kinds[depth] = SEG_MAP_VALUE;
      this.segs[depth] = k;
      this.value(v, depth + 1);
    }
  }

  set(s: Set<unknown>, depth: number): void {
    this.objs[depth] = s;
    this.byte(Tag.SET);
    this.varuint(s.size);
    this.kinds[depth] = SEG_INDEX;
    let i = 0;
    for (const v of s) {
      this.segs[depth] = i++;
      this.value(v, depth + 1);
    }
  }

  path(depth: number): string {
    return formatPath(this.segs, this.kinds as unknown as ArrayLike<PathKind>, depth);
  }

  refuse(depth: number, what: string): never {
    throw new CodecError(`cannot encode value at "${this.path(depth)}": ${what}`);
  }

  tooDeep(v: object, depth: number): never {
    const objs = this.objs;
    const seen = new Map<unknown, number>();
    objs[depth] = v;
    for (let d = 0; d <= depth; d++) {
      const first = seen.get(objs[d]);
      if (first !== undefined) {
        const target = first === 0 ? "the session values" : `"${this.path(first)}"`;
        throw new CodecError(
          `cannot encode value at "${this.path(d)}": circular reference (to ${target})`,
        );
      }
      seen.set(objs[d], d);
    }
    throw new CodecError(
      `cannot encode value at "${this.path(depth)}": nested deeper than ${MAX_DEPTH} levels`,
    );
  }
}

/** A short name for a value's kind, for error messages (never the value itself). */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  const proto: unknown = Object.getPrototypeOf(v);
  const ctor =
    proto !== null && typeof proto === "object" && Object.hasOwn(proto, "constructor")
      ? (proto as { constructor: unknown }).constructor
      : undefined;
  const name = typeof ctor === "function" && ctor.name ? ctor.name : "anonymous";
  return `class instance (${name})`;
}

const shared = new Encoder();

/**
 * Encodes a deadline and session values. Throws `CodecError` naming the key path of the first
 * value it cannot store. Returns a Buffer (a Uint8Array) that may share a pooled ArrayBuffer.
 */
export function encodeSession(deadline: Date, values: Record<string, unknown>): Buffer {
  if (shared.busy) return new Encoder().encode(deadline, values); // re-entered from a getter
  shared.busy = true;
  try {
    return shared.encode(deadline, values);
  } finally {
    shared.busy = false;
  }
}
