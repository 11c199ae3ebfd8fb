/** The Redis client for dedup and near-duplicate state: fails fast per command so stages can back off and retry. */
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
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

/** ioredis' command errors (a bug, not an outage) are ReplyErrors; everything else it throws is a connection problem. */
export function isRedisOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'ReplyError') return false;
  return err.name === 'MaxRetriesPerRequestError' || /Connection is closed|ECONNREFUSED|ECONNRESET|Command timed out|Stream isn't writeable|EPIPE/.test(err.message);
}
