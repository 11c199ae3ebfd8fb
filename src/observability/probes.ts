/** Does a part of the stack answer? Cheap, quiet checks used by `stack up/status` and the test setup. */

import { Redis } from 'ioredis';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import pg from 'pg';
import type { Config } from '../config.js';
import { registryAuthHeaders } from '../schema/registry.js';

/** Kafka answers a metadata request, reached with the same TLS and SASL settings as the workers' own clients. */
export async function kafkaAnswers(kafka: Pick<Config['kafka'], 'brokers' | 'ssl' | 'sasl'>): Promise<boolean> {
  const admin = new Kafka({
    brokers: kafka.brokers,
    ssl: kafka.ssl,
    ...(kafka.sasl ? { sasl: kafka.sasl as SASLOptions } : {}),
    clientId: 'c360-probe',
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1500,
    requestTimeout: 3000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The registry lists its subjects, asked with the same basic auth as the workers use. */
export async function registryAnswers(registry: Config['schemaRegistry']): Promise<boolean> {
  const headers = registryAuthHeaders(registry);
  try {
    const res = await fetch(`${registry.url}/subjects`, { headers, signal: AbortSignal.timeout(3000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** An S3 endpoint answers ListBuckets (S3Mock needs no signature for it). */
export async function s3Answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(3000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** An Iceberg REST catalog answers GET /v1/config. */
export async function catalogAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/v1/config`, { signal: AbortSignal.timeout(3000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** PostgreSQL (the key store) accepts a connection and a query. */
export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
