// The Avro container reader meets files from a store another engine also writes: whatever the bytes,
// it returns records or throws UnreadableFileError, never anything else; and what it writes it reads
// back unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnreadableFileError } from '../../src/contracts/errors.js';
import { readAvroFile, writeAvroFile } from '../../src/iceberg/avro-file.js';
import { MANIFEST_LIST_SCHEMA } from '../../src/iceberg/manifests.js';

const RUNS = 10_000;
const entry = fc.record({
  manifest_path: fc.string(),
  manifest_length: fc.nat(),
  partition_spec_id: fc.nat(100),
  content: fc.constantFrom(0, 1),
  sequence_number: fc.nat(),
  min_sequence_number: fc.nat(),
  added_snapshot_id: fc.nat({ max: 2 ** 52 }),
  added_files_count: fc.nat(1000),
  existing_files_count: fc.nat(1000),
  deleted_files_count: fc.nat(1000),
  added_rows_count: fc.nat(),
  existing_rows_count: fc.nat(),
  deleted_rows_count: fc.nat(),
});

describe('Avro container files', () => {
  it('read back what was written, metadata included', () => {
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 20 }),
        fc.dictionary(
          fc.string({ minLength: 1 }).filter((k) => k !== '__proto__'),
          fc.string(),
        ),
        (records, metadata) => {
          const file = readAvroFile(writeAvroFile(MANIFEST_LIST_SCHEMA, records, metadata), 'list.avro');
          expect(file.records).toEqual(records);
          for (const [k, v] of Object.entries(metadata)) if (!k.startsWith('avro.')) expect(file.metadata[k]).toBe(v);
          expect(file.schema).toEqual(MANIFEST_LIST_SCHEMA);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('refuse any other bytes with UnreadableFileError only', () => {
    const valid = writeAvroFile(
      MANIFEST_LIST_SCHEMA,
      [
        {
          manifest_path: 'm',
          manifest_length: 1,
          partition_spec_id: 0,
          content: 0,
          sequence_number: 1,
          min_sequence_number: 1,
          added_snapshot_id: 7,
          added_files_count: 1,
          existing_files_count: 0,
          deleted_files_count: 0,
          added_rows_count: 3,
          existing_rows_count: 0,
          deleted_rows_count: 0,
        },
      ],
      {},
    );
    const mutated = fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
      // A real file cut short, or with bytes flipped: the cases a torn upload or a bad disk make.
      fc.nat(valid.length).map((n) => valid.subarray(0, n)),
      fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((flips) => {
        const b = Buffer.from(valid);
        for (const [at, v] of flips) b[at] = v;
        return b;
      }),
    );
    fc.assert(
      fc.property(mutated, (bytes) => {
        try {
          readAvroFile(bytes, 'x.avro');
        } catch (err) {
          expect(err).toBeInstanceOf(UnreadableFileError);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
