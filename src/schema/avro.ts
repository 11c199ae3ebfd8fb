/** The Avro contracts in avro/: loaded once, parsed with the project's logical types. */
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { projectRoot } from '../contracts/project.js';
import { DecimalType } from './decimal.js';

export type AvroType = avro.Type;

function avroDir(): string {
  return path.join(projectRoot(), 'avro');
}

const cache = new Map<string, { schema: Record<string, unknown>; type: avro.Type }>();

/** An entity's schema by file name (avro/<name>.avsc): the JSON as written and its avsc type. */
export function loadSchema(name: string): { schema: Record<string, unknown>; type: avro.Type } {
  let entry = cache.get(name);
  if (!entry) {
    const file = path.join(avroDir(), `${name}.avsc`);
    const schema = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    entry = { schema, type: parseType(schema) };
    cache.set(name, entry);
  }
  return entry;
}

/**
 * The avsc type of a schema. With `wideLongs` (Iceberg's manifests, whose snapshot ids other engines
 * choose at random over 63 bits), a long beyond 2^53 is read and written as a bigint instead of
 * being refused; records' longs stay numbers, and one that is not exact is refused.
 */
export function parseType(schema: unknown, options: { wideLongs?: boolean } = {}): avro.Type {
  // A fresh options object each time: avsc keeps its registry of named types in it.
  return avro.Type.forSchema(schema as avro.Schema, {
    logicalTypes: { decimal: DecimalType },
    wrapUnions: 'auto',
    typeHook: options.wideLongs ? wideType : guardedType,
  });
}

/** A value in an Avro body that avsc would otherwise read as something else: its record error code says which kind. */
export class AvroValueError extends Error {
  constructor(
    readonly code: 'decode.invalid_utf8' | 'schema.wrong_type',
    message: string,
  ) {
    super(message);
  }
}

/** The parts of avsc's reading cursor (its Tap) the guarded types use. */
interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
  readString(): string | undefined;
}

/** A string whose bytes are not UTF-8 is refused, never read with U+FFFD in place of what was there. */
function readUtf8(tap: Tap): string | undefined {
  const start = tap.pos;
  const text = tap.readString();
  if (text?.includes('\uFFFD')) {
    let bytesStart = start;
    while (tap.buf[bytesStart++]! & 0x80) {}
    if (!isUtf8(tap.buf.subarray(bytesStart, tap.pos))) throw new AvroValueError('decode.invalid_utf8', 'a string is not valid UTF-8');
  }
  return text;
}

// avsc's types are frozen once built, so the guarded reads are subclasses, chosen by the type hook
// below; resolvers copy the reader type's `_read`, so decoding from any writer schema is guarded too.

class Utf8StringType extends avro.types.StringType {
  _read(tap: Tap): string | undefined {
    return readUtf8(tap);
  }
}

/** avsc reads a map into `{}`, where a key named __proto__ would vanish into the prototype: these maps have none, so every key is kept. */
class KeyKeepingMapType extends avro.types.MapType {
  _read(tap: Tap): Record<string, unknown> {
    const values = this.valuesType as avro.Type & { _read(tap: Tap): unknown };
    const map: Record<string, unknown> = Object.create(null);
    for (let n = blockCount(tap); n !== 0; n = blockCount(tap)) {
      for (; n > 0; n--) map[readUtf8(tap) ?? ''] = values._read(tap);
    }
    return map;
  }
}

/**
 * The item count of an array's or map's next block (0: the end). A count the bytes left cannot hold
 * is refused: avsc would otherwise go on reading past the end, for as many items as garbled bytes
 * say. Every item takes at least a byte here (an array of nulls longer than its bytes is refused too).
 */
function blockCount(tap: Tap): number {
  let n = tap.readLong();
  if (n < 0) {
    n = -n;
    tap.skipLong();
  }
  if (n > tap.buf.length - tap.pos) throw new Error('an array or map block counts more items than its bytes hold');
  return n;
}

class BoundedArrayType extends avro.types.ArrayType {
  _read(tap: Tap): unknown[] {
    const items = this.itemsType as avro.Type & { _read(tap: Tap): unknown };
    const out: unknown[] = [];
    for (let n = blockCount(tap); n !== 0; n = blockCount(tap)) for (; n > 0; n--) out.push(items._read(tap));
    return out;
  }
}

class Int32Type extends avro.types.IntType {
  _read(tap: Tap): number {
    const n = tap.readLong();
    if (n < -2147483648 || n > 2147483647) throw new AvroValueError('schema.wrong_type', 'an int beyond 32 bits');
    return n;
  }
}

class SafeLongType extends avro.types.LongType {
  _read(tap: Tap): number {
    const n = tap.readLong();
    if (!Number.isSafeInteger(n)) throw new AvroValueError('schema.wrong_type', 'a long beyond 2^53, which JavaScript cannot hold exactly');
    return n;
  }
}

/** The zigzag varint of a 64-bit long, as Avro writes one. */
function wideVarint(n: bigint): Buffer {
  let z = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
  const bytes: number[] = [];
  while (z >= 0x80n) {
    bytes.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  bytes.push(Number(z));
  return Buffer.from(bytes);
}

/** A long read exactly from its varint at `pos`. */
function readWideVarint(buf: Buffer, pos: number): bigint {
  let z = 0n;
  let shift = 0n;
  let b: number;
  do {
    b = buf[pos++]!;
    z |= BigInt(b & 0x7f) << shift;
    shift += 7n;
  } while (b & 0x80 && shift < 70n);
  return BigInt.asIntN(64, (z >> 1n) ^ -(z & 1n));
}

class WideLongType extends avro.types.LongType {
  _read(tap: Tap): number | bigint {
    const start = tap.pos;
    const n = tap.readLong();
    return Number.isSafeInteger(n) ? n : readWideVarint(tap.buf, start);
  }

  _check(val: unknown, flags: unknown, hook: unknown): boolean {
    if (typeof val === 'bigint') return BigInt.asIntN(64, val) === val;
    if (Number.isSafeInteger(val)) return true;
    return (avro.types.LongType.prototype as unknown as { _check(v: unknown, f: unknown, h: unknown): boolean })._check.call(this, val, flags, hook);
  }

  _write(tap: Tap & { writeFixed(buf: Buffer): void }, val: number | bigint): void {
    // avsc writes numbers up to 2^53 - 2 only; the exact ones beyond go the bigint way.
    if (typeof val === 'bigint' || (Number.isSafeInteger(val) && Math.abs(val) > 2 ** 53 - 2)) tap.writeFixed(wideVarint(BigInt(val)));
    else (avro.types.LongType.prototype as unknown as { _write(t: Tap, v: number): void })._write.call(this, tap, val);
  }
}

/** An optional long (`["null", "long"]`, as Iceberg's manifests have): a bigint goes to the long branch, as a number does. */
class WideUnionType extends avro.types.UnwrappedUnionType {
  _getIndex(val: unknown): number | undefined {
    const index = (avro.types.UnwrappedUnionType.prototype as unknown as { _getIndex(v: unknown): number | undefined })._getIndex;
    return index.call(this, typeof val === 'bigint' ? 0 : val);
  }
}

const GUARDED_PRIMITIVES: Record<string, new () => avro.Type> = { string: Utf8StringType, int: Int32Type, long: SafeLongType };

function guardedType(schema: avro.Schema, opts: avro.ForSchemaOptions, primitives = GUARDED_PRIMITIVES): avro.Type | undefined {
  if (typeof schema === 'string') return primitives[schema] ? new primitives[schema]() : undefined;
  const s = schema as { type?: unknown; logicalType?: unknown };
  if (s.type === 'map') return new KeyKeepingMapType(schema, opts);
  if (s.type === 'array') return new BoundedArrayType(schema, opts);
  if (typeof s.type === 'string' && s.logicalType === undefined && primitives[s.type]) return new primitives[s.type]!();
  return undefined;
}

const WIDE_PRIMITIVES = { ...GUARDED_PRIMITIVES, long: WideLongType };

function wideType(schema: avro.Schema, opts: avro.ForSchemaOptions): avro.Type | undefined {
  if (Array.isArray(schema) && schema.length === 2 && schema.includes('null') && schema.includes('long')) return new WideUnionType(schema, opts);
  return guardedType(schema, opts, WIDE_PRIMITIVES);
}

export function listSchemas(): string[] {
  return fs
    .readdirSync(avroDir())
    .filter((f) => f.endsWith('.avsc'))
    .map((f) => f.slice(0, -'.avsc'.length))
    .sort();
}
