// The compact layout's pure parts: digests to buckets, slices and their expiry, packed fields
// (round trips, and random bytes read back as fields or refused, never thrown).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOf, packFields, sliceExpiry, sliceOf, sliceWidth, unpackFields } from './sliced-state.js';

describe('the sliced layout', () => {
  it('puts a digest in the bucket of its first two bytes, its field the rest', () => {
    const digest = Buffer.from('01020a0b0c0d0e0f1011', 'hex');
    const { key, field } = bucketOf('ns:nb:', 7, digest);
    expect(key).toBe(`ns:nb:7:${0x0102}`);
    expect(field.toString('hex')).toBe('0a0b0c0d0e0f1011');
  });

  it('keeps every entry for at least a window, at most one and a half', () => {
    const window = 30 * 86_400_000;
    const width = sliceWidth(window);
    for (const at of [0, 1, width - 1, width, 5 * width + 12_345]) {
      const expiry = sliceExpiry(sliceOf(at, width), width, window);
      expect(expiry - at).toBeGreaterThanOrEqual(window);
      expect(expiry - at).toBeLessThanOrEqual(window + width);
    }
  });
});

describe('packed fields', () => {
  it('read back what was packed, UUIDs in 17 bytes', () => {
    const uuid = '0f8fad5b-d9cb-469f-a165-70867728950e';
    const fields = ['', 'crm', 'é ☃ 𝄞', uuid, uuid.toUpperCase(), 'x'.repeat(300)];
    const packed = packFields(fields);
    expect(unpackFields(packed)).toEqual(fields);
    expect(packFields([uuid])).toHaveLength(18);
  });

  it('read any strings back as packed, and random bytes as fields or refused, never thrown', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme' })), (fields) => {
        expect(unpackFields(packFields(fields))).toEqual(fields);
      }),
      { numRuns: 2_000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const fields = unpackFields(Buffer.from(bytes));
        expect(fields === undefined || Array.isArray(fields)).toBe(true);
      }),
      { numRuns: 10_000 },
    );
  });
});
