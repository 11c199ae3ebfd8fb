import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PartitionTurns } from './partition-turns.js';

describe('PartitionTurns', () => {
  it("runs a partition's turns one after another, a failed one included, and other partitions' alongside", async () => {
    const turns = new PartitionTurns();
    const log: string[] = [];
    const turn =
      (name: string, ms: number, fail = false) =>
      async () => {
        log.push(`${name} start`);
        await sleep(ms);
        log.push(`${name} end`);
        if (fail) throw new Error(name);
      };
    const first = turns.take('t[0]', turn('a1', 40, true));
    const second = turns.take('t[0]', turn('a2', 1));
    const other = turns.take('t[1]', turn('b1', 10));
    await expect(first).rejects.toThrow('a1');
    await Promise.all([second, other]);
    expect(log).toEqual(['a1 start', 'b1 start', 'b1 end', 'a1 end', 'a2 start', 'a2 end']);
  });
});
