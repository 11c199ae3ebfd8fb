// Longs beyond 2^53 (other engines' snapshot ids) read and written exactly: in JSON, and in the Avro
// files Iceberg's manifests are.
import { describe, expect, it } from 'vitest';
import { readAvroFile, writeAvroFile } from '../iceberg/avro-file.js';
import { parseLong, parseLongJson, stringifyLongJson } from './long-json.js';

const ENGINE_ID = 7264263391049582399n;

describe('64-bit longs', () => {
  it('reads JSON ids beyond 2^53 as bigints, and writes them back digit for digit', () => {
    const text = '{"snapshot-id":7264263391049582399,"parent":-9223372036854775808,"small":42,"ratio":1.5,"big float":1e300}';
    const parsed = parseLongJson(text) as Record<string, unknown>;
    expect(parsed).toEqual({ 'snapshot-id': ENGINE_ID, parent: -(2n ** 63n), small: 42, ratio: 1.5, 'big float': 1e300 });
    expect(stringifyLongJson(parsed)).toBe(text.replace('1e300', '1e+300'));
    expect([parseLong('42'), parseLong('9007199254740993')]).toEqual([42, 9007199254740993n]);
    expect(() => parseLong('12a')).toThrow('12a is not a whole number');
  });

  it('writes and reads them in Avro files exactly, alone and in a union with null', () => {
    const schema = {
      type: 'record',
      name: 'entry',
      fields: [
        { name: 'id', type: 'long' },
        { name: 'parent', type: ['null', 'long'], default: null },
      ],
    };
    const records = [
      { id: ENGINE_ID, parent: null },
      { id: -(2n ** 63n), parent: 2n ** 63n - 1n },
      { id: 5, parent: 9007199254740991 },
    ];
    expect(readAvroFile(writeAvroFile(schema, records, {}), 'entries.avro').records).toEqual(records);
  });
});
