/**
 * The collector's settings file: API keys (each names the one source it may send to), webhook
 * secrets per source, and limits. Validated at start; a mistake is one sentence naming it.
 */
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { parseSettings, readJsonFile } from '../../config.js';
import { ConfigError } from '../../contracts/errors.js';
import type { Logger } from '../../observability/logger.js';
import type { CompiledEntity } from '../../schema/entity.js';

export const collectorSettingsSchema = z
  .object({
    apiKeys: z
      .record(z.string(), z.string())
      .default({})
      .describe('API key (16+ characters) → the source it may send to; keys are secrets: keep the file in a mounted secret'),
    segmentWriteKeys: z
      .record(z.string(), z.string())
      .default({})
      .describe(
        "Segment write key (16+ characters) → the source its SDKs' calls go to (POST /v1/track, /v1/batch, …); the source's entity must be BehavioralEvent",
      ),
    segmentOrigins: z
      .record(z.string(), z.array(z.string().url()).min(1))
      .default({})
      .describe(
        'Segment write key → the web origins (scheme://host[:port]) whose pages may send with it from a browser: CORS preflights are answered for them, and a call from any other origin gets 403',
      ),
    snowplowAppIds: z
      .record(z.string().min(1), z.string())
      .default({})
      .describe(
        "Snowplow app id (the tracker's appId, sent as aid) → the source its events go to (POST /com.snowplowanalytics.snowplow/tp2, GET /i); the source's entity must be BehavioralEvent. An app id is not a secret: list the pages' origins in snowplowOrigins",
      ),
    snowplowOrigins: z
      .record(z.string(), z.array(z.string().url()).min(1))
      .default({})
      .describe('Snowplow app id → the web origins whose pages may send with it, as segmentOrigins does for write keys'),
    trustedProxies: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "addresses or CIDR ranges of the proxies in front of the collector (a load balancer, an ingress): only from them is X-Forwarded-For's client taken as a call's IP; otherwise the connection's address is",
      ),
    webhookSecrets: z
      .record(z.string(), z.string().min(16, 'must be at least 16 characters'))
      .default({})
      .describe('source → HMAC-SHA256 secret for POST /v1/webhooks/<source>'),
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 ** 2)
      .default(1_048_576)
      .describe('largest request body (at most 64 MiB); larger requests get 413'),
    maxEventsPerRequest: z.number().int().min(1).max(100_000).default(1_000).describe('most events in one request'),
    rateLimit: z
      .object({
        eventsPerSecond: z.number().positive().describe('events each key may send per second, on average'),
        burst: z.number().int().positive().describe('events a key may send at once (at least maxEventsPerRequest)'),
      })
      .strict()
      .optional()
      .describe(
        'per API key, Segment write key and Snowplow app id, in each collector process: a request over it gets 429 with Retry-After and nothing is sent (off when absent)',
      ),
  })
  .strict();

export type CollectorSettings = z.output<typeof collectorSettingsSchema>;

/** What a collector is built from: its settings, the sources' entities, and where it sends and reports. */
export interface CollectorOptions {
  kafka: Kafka;
  namespace: string;
  entities: Map<string, CompiledEntity>;
  settings: CollectorSettings;
  maxRecordBytes: number;
  metrics: Registry;
  logger: Logger;
}

export function parseCollectorSettings(input: unknown, sources: string[], origin = 'collector settings'): CollectorSettings {
  const settings = parseSettings(collectorSettingsSchema, input, origin);
  // Never echo a key: name the rule only.
  if (Object.keys(settings.apiKeys).some((k) => k.length < 16)) throw new ConfigError(`${origin}: apiKeys must be at least 16 characters each.`);
  if (Object.keys(settings.segmentWriteKeys).some((k) => k.length < 16))
    throw new ConfigError(`${origin}: segmentWriteKeys must be at least 16 characters each.`);
  // HTTP basic authentication ends the user name at the first colon: such a key could never be sent.
  if (Object.keys(settings.segmentWriteKeys).some((k) => k.includes(':')))
    throw new ConfigError(`${origin}: segmentWriteKeys must not contain ":", which basic authentication cannot carry in a user name.`);
  for (const [setting, keys, what] of [
    ['segmentOrigins', settings.segmentWriteKeys, 'write keys of segmentWriteKeys'],
    ['snowplowOrigins', settings.snowplowAppIds, 'app ids of snowplowAppIds'],
  ] as const) {
    const origins = Object.entries(settings[setting]);
    if (origins.some(([key]) => !(key in keys))) throw new ConfigError(`${origin}: ${setting} must name ${what}.`);
    for (const [, list] of origins)
      for (const o of list)
        if (new URL(o).origin !== o) throw new ConfigError(`${origin}: ${setting} entry "${o}" is not an origin (scheme://host[:port], no path).`);
  }
  if (settings.rateLimit && settings.rateLimit.burst < settings.maxEventsPerRequest)
    throw new ConfigError(
      `${origin}: rateLimit.burst must be at least maxEventsPerRequest (${settings.maxEventsPerRequest}), or a full request could never pass.`,
    );
  const known = new Set(sources);
  for (const source of [
    ...Object.values(settings.apiKeys),
    ...Object.values(settings.segmentWriteKeys),
    ...Object.values(settings.snowplowAppIds),
    ...Object.keys(settings.webhookSecrets),
  ]) {
    if (!known.has(source)) throw new ConfigError(`${origin}: "${source}" is not a source of the topology (known: ${sources.join(', ')}).`);
  }
  return settings;
}

export function loadCollectorSettings(file: string, sources: string[]): CollectorSettings {
  return parseCollectorSettings(readJsonFile(file, 'collector settings'), sources, `collector settings ${file}`);
}
