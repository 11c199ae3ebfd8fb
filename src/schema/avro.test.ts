import { describe, expect, it } from 'vitest';
import { AvroValueError, parseType } from './avro.js';

/** A record of a nullable string, a map and an int-like field `i`, with extra fields after them. */
const record = (intType: string, ...extra: Array<Record<string, unknown>>) =>
  parseType({
    type: 'record',
    name: 'R',
    fields: [{ name: 's', type: ['null', 'string'] }, { name: 'm', type: { type: 'map', values: 'string' } }, { name: 'i', type: intType }, ...extra],
  });
const reader = record('int');
/** A later writer, with a field the reader does not know. */
const writer = record('int', { name: 'x', type: 'string', default: '' });
/** The same layout with `i` a long: its bytes, read as the reader's int, can hold more than 32 bits. */
const wide = record('long');

/** The encoded record with the byte after the first "h" of "hé" replaced by one that starts no UTF-8 character. */
function withInvalidUtf8(type: typeof reader): Buffer {
  const buf = type.toBuffer({ s: 'hé', m: {}, i: 1, x: '' });
  buf[buf.indexOf(Buffer.from('hé')) + 1] = 0xff;
  return buf;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof AvroValueError ? err.code : 'other';
  }
  return undefined;
}

describe('Avro reads never change a value silently', () => {
  it('reads valid strings, maps and ints as written', () => {
    expect(reader.fromBuffer(reader.toBuffer({ s: 'hé ✓', m: { a: 'x' }, i: -5 }))).toEqual({ s: 'hé ✓', m: { a: 'x' }, i: -5 });
  });

  it('refuses a string that is not UTF-8, directly and through a resolver', () => {
    expect(codeOf(() => reader.fromBuffer(withInvalidUtf8(reader)))).toBe('decode.invalid_utf8');
    expect(codeOf(() => reader.decode(withInvalidUtf8(writer), 0, reader.createResolver(writer)))).toBe('decode.invalid_utf8');
  });

  it('keeps a U+FFFD that was really written', () => {
    expect(reader.fromBuffer(reader.toBuffer({ s: 'a\uFFFDb', m: {}, i: 0 })).s).toBe('a\uFFFDb');
  });

  it('keeps map keys named __proto__ and constructor', () => {
    const m = Object.assign(Object.create(null) as Record<string, string>, { ['__proto__']: 'p', constructor: 'c' });
    const back = reader.fromBuffer(reader.toBuffer({ s: null, m, i: 1 })) as { m: Record<string, string> };
    expect(Object.keys(back.m).sort()).toEqual(['__proto__', 'constructor']);
    expect(back.m.constructor).toBe('c');
  });

  it('refuses an int whose encoding holds more than 32 bits', () => {
    expect(codeOf(() => reader.fromBuffer(wide.toBuffer({ s: null, m: {}, i: 2 ** 40 })))).toBe('schema.wrong_type');
  });

  it('refuses a long beyond 2^53', () => {
    const long = Buffer.concat([wide.toBuffer({ s: null, m: {}, i: 0 }).subarray(0, -1), Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])]);
    expect(codeOf(() => wide.fromBuffer(long))).toBe('schema.wrong_type');
  });

  it('refuses an array or map block that counts more items than its bytes hold, at once', () => {
    const list = parseType({ type: 'array', items: 'int' });
    // 2^40 items of which three bytes are present: avsc alone would read on past the end for 2^40 items.
    const count = list.toBuffer([1]).subarray(0, 0);
    const garbled = Buffer.concat([count, Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x40]), Buffer.from([2, 4, 6])]);
    expect(() => list.fromBuffer(garbled)).toThrow('an array or map block counts more items than its bytes hold');
    expect(() => reader.fromBuffer(Buffer.from([0, 0x80, 0x80, 0x80, 0x80, 0x40, 2, 0x61, 2, 0x62]))).toThrow('counts more items than its bytes hold');
    expect(list.fromBuffer(list.toBuffer([1, 2, 3]))).toEqual([1, 2, 3]);
  });
});
