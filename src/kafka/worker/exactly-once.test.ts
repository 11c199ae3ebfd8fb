import kafkajs, { type Message } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../../contracts/errors.js';
import { createLogger } from '../../observability/logger.js';
import { ExactlyOnce, type PartitionTransaction, type TransactionLog } from './exactly-once.js';

const { KafkaJSProtocolError } = kafkajs;

type Outcome = 'commit' | 'fail-before-prepare' | 'fail-after-prepare' | 'fenced';

/**
 * A transaction coordinator and group in memory: what a transaction sends and the offset it carries
 * become visible together at commit, or not at all; a new producer for an id finishes the last
 * transaction of that id (a prepared commit is completed), as InitProducerId does.
 */
class MemoryLog implements TransactionLog {
  readonly output: Message[] = [];
  readonly groupOffsets = new Map<string, bigint>();
  readonly open = new Set<string>();
  inits = 0;
  aborts = 0;
  /** How the next commits end, first to last; `commit` once the list is empty. */
  outcomes: Outcome[] = [];
  private prepared: (() => void) | undefined;

  async producer(topic: string, partition: number) {
    const key = `${topic}[${partition}]`;
    if (!this.open.has(key)) {
      this.open.add(key);
      this.inits++;
      this.prepared?.();
      this.prepared = undefined;
    }
    return { transaction: async () => this.transaction(key) };
  }

  private transaction(key: string): PartitionTransaction {
    const sent: Message[] = [];
    let offset: bigint | undefined;
    const apply = () => {
      this.output.push(...sent);
      if (offset !== undefined) this.groupOffsets.set(key, offset);
    };
    return {
      sendBatch: async ({ topicMessages }) => {
        for (const t of topicMessages ?? []) sent.push(...t.messages);
        return [];
      },
      sendOffsets: async ({ topics }) => {
        offset = BigInt(topics[0]!.partitions[0]!.offset);
      },
      commit: async () => {
        const outcome = this.outcomes.shift() ?? 'commit';
        if (outcome === 'commit') return apply();
        if (outcome === 'fail-after-prepare') this.prepared = apply;
        if (outcome === 'fenced') throw new KafkaJSProtocolError(Object.assign(new Error('fenced'), { type: 'PRODUCER_FENCED', code: 90, retriable: false }));
        throw new Error('the coordinator did not answer');
      },
      abort: async () => {
        this.aborts++;
      },
    };
  }

  isOpen(topic: string, partition: number): boolean {
    return this.open.has(`${topic}[${partition}]`);
  }

  async drop(topic: string, partition: number): Promise<void> {
    this.open.delete(`${topic}[${partition}]`);
  }

  async committedOffset(topic: string, partition: number): Promise<bigint> {
    return this.groupOffsets.get(`${topic}[${partition}]`) ?? -1n;
  }
}

const records = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ offset: String(from + i) }));
const out = (...values: string[]) => [{ topic: 'out', messages: values.map((value) => ({ value })) }];
const offsets = (ms: Array<{ offset: string }>) => ms.map((m) => m.offset);

function setup() {
  const log = new MemoryLog();
  return { log, eo: new ExactlyOnce(log, 'group', createLogger('silent')) };
}

describe('ExactlyOnce', () => {
  it('commits output and the next offset together, and skips what it committed when a batch is handed over again', async () => {
    const { log, eo } = setup();
    expect(offsets(await eo.uncommitted('in', 0, records(10, 13)))).toEqual(['10', '11', '12', '13']);
    await eo.commit({ topic: 'in', partition: 0, next: 14n }, out('a', 'b', 'c', 'd'), new Map());
    expect(log.groupOffsets.get('in[0]')).toBe(14n);
    // After a rejoin KafkaJS hands over 12–15 again, with the producer still open.
    expect(offsets(await eo.uncommitted('in', 0, records(12, 15)))).toEqual(['14', '15']);
    expect(offsets(await eo.uncommitted('in', 0, records(10, 13)))).toEqual([]);
    // Another partition has a mark of its own.
    expect(offsets(await eo.uncommitted('in', 1, records(12, 13)))).toEqual(['12', '13']);
    expect(log.output.map((m) => m.value)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('reads the group offset with a new producer: another worker committed part of the partition before', async () => {
    const { log, eo } = setup();
    log.groupOffsets.set('in[0]', 21n);
    expect(offsets(await eo.uncommitted('in', 0, records(18, 23)))).toEqual(['21', '22', '23']);
    expect(log.inits).toBe(1);
  });

  it('a commit that reported failure but was prepared is finished by the next producer, and its records are not processed twice', async () => {
    const { log, eo } = setup();
    await eo.uncommitted('in', 0, records(0, 4));
    log.outcomes = ['fail-after-prepare'];
    await expect(eo.commit({ topic: 'in', partition: 0, next: 5n }, out('a', 'b'), new Map())).rejects.toThrow('did not answer');
    expect(log.aborts).toBe(1);
    expect(log.isOpen('in', 0)).toBe(false);
    expect(log.output).toEqual([]);
    // The batch is read again; the new producer finishes the prepared commit, so nothing of it is left to process.
    expect(offsets(await eo.uncommitted('in', 0, records(0, 4)))).toEqual([]);
    expect(log.output.map((m) => m.value)).toEqual(['a', 'b']);
    expect(log.groupOffsets.get('in[0]')).toBe(5n);
  });

  it('a commit that failed before it was prepared leaves nothing, and the batch is processed again in full', async () => {
    const { log, eo } = setup();
    await eo.uncommitted('in', 0, records(0, 2));
    log.outcomes = ['fail-before-prepare'];
    await expect(eo.commit({ topic: 'in', partition: 0, next: 3n }, out('a'), new Map())).rejects.toThrow('did not answer');
    expect(offsets(await eo.uncommitted('in', 0, records(0, 2)))).toEqual(['0', '1', '2']);
    await eo.commit({ topic: 'in', partition: 0, next: 3n }, out('a'), new Map());
    expect(log.output.map((m) => m.value)).toEqual(['a']);
  });

  it('a fenced producer is dropped without an abort and reported as a Kafka outage, so the batch is read again', async () => {
    const { log, eo } = setup();
    await eo.uncommitted('in', 0, records(0, 2));
    log.outcomes = ['fenced'];
    const failure = eo.commit({ topic: 'in', partition: 0, next: 3n }, out('a'), new Map());
    await expect(failure).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(failure).rejects.toMatchObject({ dependency: 'kafka', retriable: true });
    expect(log.aborts).toBe(0);
    expect(log.isOpen('in', 0)).toBe(false);
    expect(log.output).toEqual([]);
  });

  it('a group offset behind what this worker committed moves no mark back', async () => {
    const { log, eo } = setup();
    await eo.uncommitted('in', 0, records(0, 9));
    await eo.commit({ topic: 'in', partition: 0, next: 10n }, out('a'), new Map());
    // The coordinator lost the offset (say, the group expired): the worker's own mark still holds.
    log.groupOffsets.delete('in[0]');
    await log.drop('in', 0);
    expect(offsets(await eo.uncommitted('in', 0, records(8, 11)))).toEqual(['10', '11']);
  });
});
