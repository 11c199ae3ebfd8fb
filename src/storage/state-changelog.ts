/**
 * Redis state mirrored by a changelog topic, as Kafka Streams keeps its stores: every change a
 * stage makes to the state is also written to a compacted topic, in the transaction of the batch
 * that made it. What Redis loses — a restart without persistence, a failover to an empty replica,
 * FLUSHALL — is rebuilt from the topic before the state is used again.
 *
 * A marker key holds the epoch of the last rebuild. The state's scripts refuse to run without it
 * (StateLostError), and a batch whose changes were made under another epoch does not commit
 * (`verify`, called after the batch's messages are sent and before its transaction commits): a
 * rebuild that starts later reads to an end past those messages and so waits for the transaction.
 * So no change is lost with the data it was made beside.
 */
import { randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import type { KafkaMessage } from 'kafkajs';
import { DependencyUnavailableError } from '../contracts/errors.js';
import { callRedis, StateLostError } from './redis.js';

/** Reads a changelog topic from its start to its end (committed records only). */
export type ReadChangelog = (topic: string, each: (m: KafkaMessage) => void) => Promise<void>;

/** A rebuild holds its lock this long between renewals; a worker that dies mid-rebuild frees it by then. */
const LOCK_MS = 30_000;
/** Writes per pipeline while rebuilding. */
const PIPELINE = 1_000;

/**
 * One changelog entry's value: when the change expires (epoch ms, in ASCII), `|`, then the value
 * Redis holds. The key names where Redis holds it: a digest or a content hash, never a personal value.
 */
export const changelogValue = (expiresAt: number, value: Buffer): Buffer => Buffer.concat([Buffer.from(`${expiresAt}|`), value]);

/** Queues into a pipeline the writes that put one live changelog entry back into Redis. */
export type Restore = (pipeline: ChainableCommander, entry: { key: Buffer; value: Buffer; expiresAt: number }) => void;

export class RestorableState {
  /** Holds the epoch of the last rebuild; its absence says Redis lost the state. */
  readonly marker: string;
  private readonly lock: string;

  constructor(
    private readonly redis: Redis,
    /** What the state is called in messages and keys: `<namespace>:<name>:…`. */
    private readonly prefix: string,
    readonly changelog: string,
    private readonly read: ReadChangelog,
    private readonly restore: Restore,
  ) {
    this.marker = `${prefix}:epoch`;
    this.lock = `${prefix}:rebuilding`;
  }

  /**
   * Rebuilds the state from its changelog, entries past their expiry left out, then sets a new
   * epoch. Only one worker rebuilds: the others are told to wait (DependencyUnavailableError) and
   * find the state once the marker is back.
   */
  async rebuild(): Promise<number> {
    const token = randomUUID();
    const locked = await callRedis(`the ${this.prefix} rebuild lock`, () => this.redis.set(this.lock, token, 'PX', LOCK_MS, 'NX'));
    if (locked !== 'OK') throw new DependencyUnavailableError('redis', `${this.prefix} is being rebuilt from ${this.changelog} by another worker`);
    try {
      const now = Date.now();
      let restored = 0;
      let pipeline = this.redis.pipeline();
      const sent: Array<Promise<unknown>> = [];
      const flush = () => {
        sent.push(pipeline.pexpire(this.lock, LOCK_MS).exec());
        pipeline = this.redis.pipeline();
      };
      await this.read(this.changelog, (m) => {
        if (!m.key || !m.value) return;
        const bar = m.value.indexOf(0x7c);
        const expiresAt = Number(m.value.toString('latin1', 0, bar));
        if (!(expiresAt > now)) return;
        // Entries of one key share a partition and come in order: the later one is the state.
        this.restore(pipeline, { key: m.key, value: m.value.subarray(bar + 1), expiresAt });
        if (++restored % PIPELINE === 0) flush();
      });
      flush();
      await callRedis(`rebuilding ${this.prefix}`, async () => {
        for (const replies of (await Promise.all(sent)) as Array<Array<[Error | null, unknown]> | null>) for (const [err] of replies ?? []) if (err) throw err;
      });
      await callRedis(`the ${this.prefix} epoch`, () => this.redis.set(this.marker, randomUUID()));
      return restored;
    } finally {
      await this.redis
        .get(this.lock)
        .then((holder) => (holder === token ? this.redis.del(this.lock) : 0))
        .catch(() => undefined);
    }
  }

  /** Throws StateLostError unless the state still has the epoch its changes were made under. */
  async verify(epoch: string): Promise<void> {
    const now = await callRedis(`the ${this.prefix} epoch`, () => this.redis.get(this.marker));
    if (now !== epoch) throw new StateLostError('redis', `Redis lost ${this.prefix} while a batch was in flight; the batch is read again once it is rebuilt`);
  }
}
