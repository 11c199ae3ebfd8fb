/** The Redis client for dedup and near-duplicate state: fails fast per command so stages can back off and retry. */
import { Redis, ReplyError } from 'ioredis';
import type { Config } from '../config.js';
import { type C360Error, DependencyRefusedError, DependencyUnavailableError, describeError } from '../contracts/errors.js';
import type { Logger } from '../observability/logger.js';

export function createRedis(config: Config, logger: Logger): Redis {
  const redis = new Redis(config.redisUrl, {
    // A command waits for at most one reconnect; the stage's own retry loop provides the backpressure.
    maxRetriesPerRequest: 1,
    commandTimeout: 5_000,
    retryStrategy: (times) => Math.min(100 * times, 2_000),
    lazyConnect: true,
  });
  let reported = false;
  redis.on('error', (err: Error) => {
    if (!reported) logger.warn({ err: err.message }, 'redis connection error');
    reported = true;
  });
  redis.on('ready', () => {
    if (reported) logger.info('redis connection restored');
    reported = false;
  });
  return redis;
}

/** Redis answered, but a state the topology keeps there is gone (state-changelog.ts): it is rebuilt before it is used. */
export class StateLostError extends DependencyUnavailableError {}

/** Redis error codes (the reply's first word) that a later attempt may not get: loading, busy, failing over. */
const PASSING_REPLIES = new Set(['LOADING', 'BUSY', 'READONLY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'NOREPLICAS']);

/**
 * What a failed Redis call means, decided here where the client is called: a reply error is
 * Redis refusing the command (a bug, not retried) unless its code says the server is passing
 * through a state; anything else ioredis throws (closed connection, timeout, retries used up)
 * is the connection, and retried.
 */
export function redisFailure(what: string, err: unknown): C360Error {
  if (err instanceof ReplyError) {
    const reply = (err as Error).message;
    const code = reply.split(' ', 1)[0] ?? '';
    const message = `Redis refused ${what}: ${reply.split('\n', 1)[0]}`;
    if (code === 'C360LOST') return new StateLostError('redis', message, { cause: err });
    return PASSING_REPLIES.has(code)
      ? new DependencyUnavailableError('redis', message, { cause: err })
      : new DependencyRefusedError('redis', message, { cause: err });
  }
  return new DependencyUnavailableError('redis', `Redis is unreachable for ${what}: ${describeError(err)}`, { cause: err });
}

/** Runs a Redis call, its failure classified. */
export async function callRedis<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw redisFailure(what, err);
  }
}
