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

  it('drops what this worker committed of a partition, and a mark never moves back', () => {
    const turns = new PartitionTurns();
    const messages = ['55', '56', '70', '71'].map((offset) => ({ offset }));
    expect(turns.uncommitted('t[1]', messages)).toEqual(messages);
    turns.committed('t[1]', 71n);
    turns.committed('t[1]', 56n);
    expect(turns.uncommitted('t[1]', messages)).toEqual([{ offset: '71' }]);
    expect(turns.uncommitted('t[2]', messages)).toEqual(messages);
  });

  it('skips what the group says is committed too, once a new producer has read its offset: a batch after a rejoin, or a failed commit that was prepared', () => {
    const turns = new PartitionTurns();
    const batch = ['10', '11', '12', '13', '14'].map((offset) => ({ offset }));
    // This worker committed up to 11 itself; the batch is handed over again after a rejoin.
    turns.committed('t[0]', 12n);
    expect(turns.uncommitted('t[0]', batch).map((m) => m.offset)).toEqual(['12', '13', '14']);
    // Its commit of 12–13 reported a failure; the new producer finished it at the coordinator, and the group's offset says 14.
    turns.committed('t[0]', 14n);
    expect(turns.uncommitted('t[0]', batch).map((m) => m.offset)).toEqual(['14']);
    // A group offset behind what this worker knows (-1: none committed yet) moves nothing back.
    turns.committed('t[0]', -1n);
    expect(turns.uncommitted('t[0]', batch).map((m) => m.offset)).toEqual(['14']);
    // A whole batch already committed leaves nothing to process.
    turns.committed('t[0]', 15n);
    expect(turns.uncommitted('t[0]', batch)).toEqual([]);
  });
});
