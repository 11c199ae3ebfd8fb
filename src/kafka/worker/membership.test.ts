import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { concurrentPartitions } from './membership.js';

const memory = (mb?: number) => loadConfig(mb === undefined ? {} : { C360_MEMORY_MB: String(mb) }).memory;

describe('concurrentPartitions', () => {
  it('works on as many partitions as asked at the budget’s own batch size', () => {
    expect(concurrentPartitions(6, undefined, memory(256))).toBe(6);
    expect(concurrentPartitions(4, undefined, memory(256))).toBe(4);
    expect(concurrentPartitions(6, undefined, memory())).toBe(6);
  });

  it('works on fewer partitions at once when batches are larger than the budget’s, never none', () => {
    // 256 MiB: batches of 256 KiB, six of them in flight.
    expect(concurrentPartitions(6, 512 * 1024, memory(256))).toBe(3);
    expect(concurrentPartitions(6, 1024 * 1024, memory(256))).toBe(1);
    expect(concurrentPartitions(6, 64 * 1024 * 1024, memory(256))).toBe(1);
    expect(concurrentPartitions(6, 2 * 1024 * 1024, memory(1024))).toBe(3);
  });

  it('does not work on more partitions at once when batches are smaller', () => {
    expect(concurrentPartitions(6, 16 * 1024, memory(256))).toBe(6);
  });
});
