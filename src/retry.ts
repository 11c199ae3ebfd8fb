/**
 * The one retry loop (in the manner of kafkajs' src/retry): exponential backoff between
 * attempts, for errors that say they are retriable (contracts/errors.ts) and nothing else. A
 * worker waiting out an outage passes `retries: Infinity` (backpressure, the batch holds) and a
 * `shouldContinue` that turns false when it is told to stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  C360Error,
  type DependencyRefusedError,
  type DependencyUnavailableError,
  isDependencyFailure,
  isKafkaOutage,
  isRetriable,
} from './contracts/errors.js';
import type { Logger } from './observability/logger.js';

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number;
  /** First wait, doubled after each attempt up to `maxMs`. */
  initialMs?: number;
  maxMs?: number;
  /** Retry only while this holds (a worker that is stopping rethrows at once). */
  shouldContinue?: () => boolean;
  /** Which errors are worth another attempt (default: those that say they are retriable). */
  retryable?: (error: unknown) => boolean;
  /** The longest wait, whatever a dependency's Retry-After asks (default one minute): a wait is never unbounded. */
  maxWaitMs?: number;
  /** Ends a wait at once when it aborts (SIGTERM): the last error is thrown. */
  signal?: AbortSignal;
  /** Before each wait: count it, log it, heartbeat. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => Promise<void> | void;
}

/** The longest a retry waits unless told otherwise: a Retry-After of a day is not believed. */
const MAX_RETRY_WAIT_MS = 60_000;

export async function retry<T>(run: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 2_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run(attempt);
    } catch (err) {
      const stopped = options.shouldContinue?.() === false || options.signal?.aborted === true;
      if (!(options.retryable ?? isRetriable)(err) || attempt > options.retries || stopped) throw err;
      // A dependency that said how long to wait (Retry-After) is believed over the backoff, up to the longest wait.
      const asked = (err instanceof C360Error ? err.retryAfterMs : undefined) ?? Math.min(initial * 2 ** (attempt - 1), max);
      const delay = Math.min(asked, options.maxWaitMs ?? MAX_RETRY_WAIT_MS);
      await options.onRetry?.(err, attempt, delay);
      const aborted = await sleep(delay, false, { signal: options.signal }).catch(() => true);
      if (aborted) throw err;
    }
  }
}

/**
 * Attempts across a Kafka outage — a broker failover and the leader election after it — for work
 * that resumes from committed state: 1 s doubling to 30 s, about two minutes in all.
 */
export const KAFKA_OUTAGE_RETRY: RetryOptions = { retries: 7, initialMs: 1_000, maxMs: 30_000, retryable: isKafkaOutage };

/** What a worker's partitions are waiting on, by partition: /readyz names it while it lasts. */
export class DependencyWaits {
  private readonly waiting = new Map<string, { dependency: string; message: string; since: number }>();

  /** Notes what `key` waits on; true when it was not waiting already. */
  start(key: string, error: DependencyUnavailableError | DependencyRefusedError): boolean {
    const before = this.waiting.get(key);
    this.waiting.set(key, { dependency: error.dependency, message: error.message, since: before?.since ?? Date.now() });
    return before === undefined;
  }

  end(key: string): void {
    this.waiting.delete(key);
  }

  /** One line per dependency waited on, naming what it said last and since when; empty when nothing waits. */
  describe(now = Date.now()): string[] {
    const by = new Map<string, { message: string; since: number; keys: number }>();
    for (const w of this.waiting.values()) {
      const seen = by.get(w.dependency);
      by.set(w.dependency, { message: w.message, since: Math.min(seen?.since ?? w.since, w.since), keys: (seen?.keys ?? 0) + 1 });
    }
    return [...by].map(([d, w]) => `waiting ${Math.round((now - w.since) / 1000)}s on ${d} (${w.keys} partition(s)): ${w.message}`);
  }
}

export interface WaitOutOptions {
  /** What waits (a partition), for the log and for `waits`. */
  key: string;
  logger: Logger;
  waits?: DependencyWaits;
  /** Wait only while this holds: a worker that stops or loses the partition rethrows the failure at once. */
  shouldContinue: () => boolean;
  /** Before each wait (a consumer's heartbeat, a metric). */
  onRetry?: (error: unknown, attempt: number) => Promise<void> | void;
}

/**
 * A worker's work against its dependencies: every failure of a dependency, unreachable or refusing
 * (a revoked permission, a rotated password, a full disk), is waited out with backoff up to five
 * seconds while the worker keeps its partition — work pauses, no record is blamed — and logged at
 * the first attempt and every tenth, a refusal as an error since it needs someone to act. Anything
 * else (a record's fault, a bug) is thrown at once.
 */
export function waitOut<T>(run: () => Promise<T>, o: WaitOutOptions): Promise<T> {
  return retry(run, {
    retries: Number.POSITIVE_INFINITY,
    maxMs: 5_000,
    retryable: isDependencyFailure,
    shouldContinue: o.shouldContinue,
    onRetry: async (err, attempt, delayMs) => {
      const failure = err as DependencyUnavailableError | DependencyRefusedError;
      o.waits?.start(o.key, failure);
      if (attempt === 1 || attempt % 10 === 0) {
        const entry = { key: o.key, dependency: failure.dependency, code: failure.code, attempt, waitMs: delayMs, err: failure.message };
        if (failure.retriable) o.logger.warn(entry, 'waiting for a dependency');
        else o.logger.error(entry, 'a dependency refuses; waiting until it is fixed');
      }
      await o.onRetry?.(err, attempt);
    },
  }).finally(() => o.waits?.end(o.key));
}
