/**
 * When a sink closes a file. Every rule but the idle flush is a function of the records alone, so a
 * replay after a crash cuts files at the same offsets and writes the same names and bytes. The idle
 * flush (and a graceful stop) depend on the clock; see docs/raw-layer.md for why
 * that never duplicates a row.
 */
import { z } from 'zod';
import { validated } from '../contracts/validation.js';

const rotationSchema = z
  .object({
    maxRecords: z.number().int().min(1).default(100_000),
    /** Input bytes (Kafka keys + values), a proxy for file size known before encoding. */
    maxBytes: z
      .number()
      .int()
      .min(1024)
      .default(128 * 1024 * 1024),
    /** Record time (c360.received_at) from a file's first record to its last. */
    maxSpanMs: z.number().int().min(1).default(3_600_000),
    /** Wall-clock time without a new record before an open file is closed, so quiet partitions still land. */
    idleFlushMs: z.number().int().min(100).default(30_000),
    rowGroupRows: z.number().int().min(1).default(10_000),
  })
  .strict();

export type RotationOptions = z.output<typeof rotationSchema>;

export function rotationOptions(input: unknown = {}): RotationOptions {
  return validated(rotationSchema, input, (path, message) => `sink option ${path || '(root)'} ${message}`);
}
