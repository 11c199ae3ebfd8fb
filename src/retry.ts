/**
 * The one retry loop (in the manner of kafkajs' src/retry): exponential backoff between
 * attempts, for errors that say they are retriable (contracts/errors.ts) and nothing else. A
 * worker waiting out an outage passes `retries: Infinity` (backpressure, the batch holds) and a
 * `shouldContinue` that turns false when it is told to stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { C360Error, isKafkaOutage, isRetriable } from './contracts/errors.js';

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
  /** Before each wait: count it, log it, heartbeat. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => Promise<void> | void;
}

export async function retry<T>(run: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 2_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run(attempt);
    } catch (err) {
      if (!(options.retryable ?? isRetriable)(err) || attempt > options.retries || options.shouldContinue?.() === false) throw err;
      // A dependency that said how long to wait (Retry-After) is believed over the backoff.
      const delay = (err instanceof C360Error ? err.retryAfterMs : undefined) ?? Math.min(initial * 2 ** (attempt - 1), max);
      await options.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}

/**
 * Attempts across a Kafka outage — a broker failover and the leader election after it — for work
 * that resumes from committed state: 1 s doubling to 30 s, about two minutes in all.
 */
export const KAFKA_OUTAGE_RETRY: RetryOptions = { retries: 7, initialMs: 1_000, maxMs: 30_000, retryable: isKafkaOutage };
