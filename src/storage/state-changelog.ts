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
import { writePrefixed } from './sliced-state.js';

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

/**
 * Marks a changelog message that carries many entries (changelogBatches): a state that never
 * writes a tombstone (dedup claims, whose keys are content hashes) needs no message per entry, and
 * a message per entry costs the worker and the broker more than the entry itself. Entries of a
 * state that forgets a key stay one message each, since compaction must find them by their key.
 */
const BATCH_HEADER = 'c360.changelog';
const BATCH_FORMAT = 'entries';
/** Entries per batched message: bounds a message well below a broker's default size limit. */
const ENTRIES_PER_MESSAGE = 2_000;

/**
 * Entries as few messages, in order: each message the entries' keys and values, each after its
 * length (writePrefixed), keyed by its first entry's key.
 */
export function changelogBatches(
  entries: ReadonlyArray<{ key: Buffer; value: Buffer }>,
): Array<{ key: Buffer; value: Buffer; headers: Record<string, string> }> {
  const messages: Array<{ key: Buffer; value: Buffer; headers: Record<string, string> }> = [];
  for (let from = 0; from < entries.length; from += ENTRIES_PER_MESSAGE) {
    const part = entries.slice(from, from + ENTRIES_PER_MESSAGE);
    let size = 0;
    for (const e of part) size += 8 + e.key.length + e.value.length;
    const value = Buffer.allocUnsafe(size);
    let at = 0;
    for (const e of part) at = writePrefixed(value, writePrefixed(value, at, e.key), e.value);
    messages.push({ key: part[0]!.key, value, headers: { [BATCH_HEADER]: BATCH_FORMAT } });
  }
  return messages;
}

/** The entries of a changelog message: its own key and value, or those it carries when it is a batch (changelogBatches). */
export function changelogEntries(m: Pick<KafkaMessage, 'key' | 'value' | 'headers'>): Array<{ key: Buffer; value: Buffer | null }> {
  if (!m.key) return [];
  if (m.headers?.[BATCH_HEADER]?.toString() !== BATCH_FORMAT || !m.value) return [{ key: m.key, value: m.value }];
  const entries: Array<{ key: Buffer; value: Buffer }> = [];
  const v = m.value;
  for (let at = 0; at + 8 <= v.length; ) {
    const keyEnd = at + 4 + v.readUInt32BE(at);
    if (keyEnd + 4 > v.length) break;
    const valueEnd = keyEnd + 4 + v.readUInt32BE(keyEnd);
    if (valueEnd > v.length) break;
    entries.push({ key: v.subarray(at + 4, keyEnd), value: v.subarray(keyEnd + 4, valueEnd) });
    at = valueEnd;
  }
  return entries;
}

/** One live entry of a changelog: its key, the value Redis held, and when it expires (epoch ms). */
export interface ChangelogEntry {
  key: Buffer;
  value: Buffer;
  expiresAt: number;
}

/**
 * What puts a changelog back into Redis. `restore` takes each live entry in changelog order and
 * `forget` each tombstone's key; `flush` sends what they queued, in order with what it sent
 * before, and is called every so many entries without waiting and once more at the end.
 */
export interface Restorer {
  restore(entry: ChangelogEntry): void;
  forget?(key: Buffer): void;
  flush(): Promise<void>;
}

/** A restorer that queues each entry's writes into one pipeline per flush. */
export function pipelineRestorer(redis: Redis, queue: (pipeline: ChainableCommander, entry: ChangelogEntry) => void): Restorer {
  let pipeline = redis.pipeline();
  return {
    restore: (entry) => queue(pipeline, entry),
    async flush() {
      const sending = pipeline;
      pipeline = redis.pipeline();
      for (const [err] of (await sending.exec()) ?? []) if (err) throw err;
    },
  };
}

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
    private readonly restorer: Restorer,
  ) {
    this.marker = `${prefix}:epoch`;
    this.lock = `${prefix}:rebuilding`;
  }

  /** Runs a call on the state; when Redis lost the state, rebuilds it first and runs the call again. */
  async guarded<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof StateLostError)) throw err;
      await this.rebuild();
      return await call();
    }
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
      // Flushes are not awaited while the changelog is read; the first failure is kept and thrown at the end.
      const sent: Array<Promise<unknown>> = [];
      let failed: unknown;
      const flush = () => {
        for (const p of [this.restorer.flush(), this.redis.pexpire(this.lock, LOCK_MS)]) sent.push(p.catch((err: unknown) => (failed ??= err)));
      };
      await this.read(this.changelog, (m) => {
        for (const { key, value } of changelogEntries(m)) {
          if (!value) {
            this.restorer.forget?.(key);
            continue;
          }
          const bar = value.indexOf(0x7c);
          const expiresAt = Number(value.toString('latin1', 0, bar));
          if (!(expiresAt > now)) continue;
          // Entries of one key share a partition and come in order: the later one is the state. A batched state's
          // entries (changelogBatches) need no order: a claim is made once a window, into the slice of its time.
          this.restorer.restore({ key, value: value.subarray(bar + 1), expiresAt });
          if (++restored % PIPELINE === 0) flush();
        }
      });
      flush();
      await callRedis(`rebuilding ${this.prefix}`, async () => {
        await Promise.all(sent);
        if (failed !== undefined) throw failed;
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

  /** Throws StateLostError unless the state still has every epoch a batch's changes were made under. */
  async verify(epochs: Iterable<string>): Promise<void> {
    for (const epoch of new Set(epochs)) {
      const now = await callRedis(`the ${this.prefix} epoch`, () => this.redis.get(this.marker));
      if (now !== epoch) throw new StateLostError('redis', `Redis lost ${this.prefix} while a batch was in flight; the batch is read again once it is rebuilt`);
    }
  }
}
