import { ReplyError } from 'ioredis';
import { KafkaJSError, KafkaJSNonRetriableError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DependencyRefusedError,
  DependencyUnavailableError,
  httpError,
  isKafkaOutage,
  isRetriable,
  isRetriableStatus,
} from './contracts/errors.js';
import { retry } from './retry.js';
import { redisFailure } from './storage/redis.js';

const failing = (errors: unknown[]) => {
  let calls = 0;
  return {
    run: async () => {
      const e = errors[calls++];
      if (e !== undefined) throw e;
      return calls;
    },
    calls: () => calls,
  };
};

describe('retry', () => {
  it('retries what is retriable until it succeeds', async () => {
    const f = failing([new DependencyUnavailableError('redis', 'down'), new DependencyUnavailableError('redis', 'down')]);
    expect(await retry(f.run, { retries: 5, initialMs: 1 })).toBe(3);
  });

  it('fails at once on what is not retriable', async () => {
    const f = failing([new DependencyRefusedError('object-store', 'put s3://b/k answered 403 (AccessDenied); not retried')]);
    await expect(retry(f.run, { retries: 5, initialMs: 1 })).rejects.toThrow('answered 403');
    expect(f.calls()).toBe(1);
  });

  it('with isKafkaOutage, retries a Kafka failure KafkaJS gave up on, but not a refused login', async () => {
    // After its own retries KafkaJS reports a leader election as not retriable; work that resumes from committed state tries again.
    const election = new KafkaJSNonRetriableError('There is no leader for this topic-partition as we are in the middle of a leadership election');
    const f = failing([election, election]);
    expect(await retry(f.run, { retries: 5, initialMs: 1, retryable: isKafkaOutage })).toBe(3);
    const login = Object.assign(new KafkaJSNonRetriableError('SASL SCRAM SHA512 authentication failed'), { name: 'KafkaJSSASLAuthenticationError' });
    const g = failing([login]);
    await expect(retry(g.run, { retries: 5, initialMs: 1, retryable: isKafkaOutage })).rejects.toThrow('authentication failed');
    expect(g.calls()).toBe(1);
    expect(isKafkaOutage(new ConfigError('KAFKA_BROKERS is wrong.'))).toBe(false);
    // A read of a state topic that outlasted a failover is another Kafka outage; Redis being down is not.
    expect(isKafkaOutage(new DependencyUnavailableError('kafka', 'reading ns.connector-state to its end took over 60000 ms'))).toBe(true);
    expect(isKafkaOutage(new DependencyUnavailableError('redis', 'down'))).toBe(false);
  });

  it('gives up after its retries with the last error', async () => {
    const f = failing(Array.from({ length: 10 }, (_, i) => new DependencyUnavailableError('kafka', `try ${i}`)));
    await expect(retry(f.run, { retries: 2, initialMs: 1 })).rejects.toThrow('try 2');
    expect(f.calls()).toBe(3);
  });

  it('stops retrying when told to stop, and reports each retry before waiting', async () => {
    const seen: number[] = [];
    let go = true;
    const f = failing(Array.from({ length: 10 }, () => new DependencyUnavailableError('redis', 'down')));
    await expect(
      retry(f.run, {
        retries: Number.POSITIVE_INFINITY,
        initialMs: 1,
        shouldContinue: () => go,
        onRetry: (_e, attempt) => {
          seen.push(attempt);
          go = attempt < 3;
        },
      }),
    ).rejects.toThrow('down');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('waits as long as a Retry-After asked', async () => {
    const f = failing([httpError('connector', 'vendor', 429, { retryAfter: '0.05' })]);
    const started = performance.now();
    await retry(f.run, { retries: 1, initialMs: 1 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });
});

describe('error classification', () => {
  it.each([
    [408, true],
    [425, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [409, false],
    [422, false],
  ])('HTTP %i is retriable: %s', (status, retriable) => {
    expect(isRetriableStatus(status)).toBe(retriable);
    expect(isRetriable(httpError('connector', 'GET /x', status))).toBe(retriable);
  });

  it.each([
    ['LOADING Redis is loading the dataset in memory', true],
    ['READONLY You cannot write against a read only replica.', true],
    ['BUSY Redis is busy running a script.', true],
    ['ERR wrong number of arguments', false],
    ['WRONGTYPE Operation against a key holding the wrong kind of value', false],
    ['NOSCRIPT No matching script.', false],
  ])('a Redis reply "%s" is retriable: %s', (reply, retriable) => {
    expect(isRetriable(redisFailure('the dedup claims', new ReplyError(reply)))).toBe(retriable);
  });

  it('takes anything else Redis throws as the connection, retried', () => {
    const e = redisFailure('the dedup claims', new Error('Connection is closed.'));
    expect(e.retriable).toBe(true);
    expect(e.message).toBe('Redis is unreachable for the dedup claims: Connection is closed.');
  });

  it("believes KafkaJS's own flag, and nothing else that merely has one", () => {
    expect(isRetriable(new KafkaJSError('leader moved', { retriable: true }))).toBe(true);
    expect(isRetriable(new KafkaJSNonRetriableError('fenced'))).toBe(false);
    expect(isRetriable(Object.assign(new Error('duck'), { retriable: true }))).toBe(false);
    expect(isRetriable(new ConfigError('KAFKA_BROKERS must be …'))).toBe(false);
  });
});
