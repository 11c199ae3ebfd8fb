/** Redis: the machine's own server on 127.0.0.1:6379 when it answers, else a redis-server started on loopback. */
import fs from 'node:fs';
import path from 'node:path';
import { redisAnswers } from '../../src/observability/probes.js';
import type { StackPart } from './part.js';
import type { StackPaths } from './paths.js';
import { requireCommand } from './prerequisites.js';
import { LOOPBACK, REDIS_PORT } from './versions.js';

export const REDIS_URL = `redis://${LOOPBACK}:${REDIS_PORT}`;

export const redisPart: StackPart = {
  name: 'redis',
  address: REDIS_URL,
  readyTimeoutMs: 20_000,
  answers: () => redisAnswers(REDIS_URL),
  prepare(paths: StackPaths) {
    requireCommand('redis-server');
    const dir = path.join(paths.state, 'redis');
    fs.mkdirSync(dir, { recursive: true });
    return {
      name: 'redis',
      command: 'redis-server',
      args: ['--bind', LOOPBACK, '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no', '--dir', dir],
      cwd: dir,
      // redis-server rewrites its process title to "redis-server 127.0.0.1:6379", so that is what /proc shows.
      marker: `redis-server ${LOOPBACK}:${REDIS_PORT}`,
    };
  },
};
