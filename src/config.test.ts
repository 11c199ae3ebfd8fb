import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { ConfigError } from './contracts/errors.js';

describe('loadConfig', () => {
  it('gives the local-stack defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(config.schemaRegistry.url).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.dataDir.endsWith('/data')).toBe(true);
    expect(config.kafka.sasl).toBeUndefined();
    // Replication is the broker's own default unless set, on one broker or many.
    expect(config.topics).toEqual({});
    expect(loadConfig({ C360_REPLICATION_FACTOR: '3', C360_MIN_INSYNC_REPLICAS: '2' }).topics).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
  });

  it('reads lists, flags and SASL settings', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'a.example:9092, b.example:9093',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: 'secret',
      SCHEMA_REGISTRY_URL: 'https://registry.example/apis/ccompat/v7/',
    });
    expect(config.kafka.brokers).toEqual(['a.example:9092', 'b.example:9093']);
    expect(config.kafka.ssl).toBe(true);
    expect(config.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc', password: 'secret' });
    expect(config.schemaRegistry.url).toBe('https://registry.example/apis/ccompat/v7');
  });

  it('turns tracing on only with an OTLP endpoint, and refuses a protocol or header list it cannot honour', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel.example:4318/',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20t0ken,x-tenant=a',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }).tracing,
    ).toEqual({
      url: 'http://otel.example:4318/v1/traces',
      headers: { authorization: 'Bearer t0ken', 'x-tenant': 'a' },
      serviceName: undefined,
      sampler: 'parentbased_traceidratio',
      ratio: 0.25,
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo.example/otlp/v1/traces' }).tracing?.url).toBe('http://tempo.example/otlp/v1/traces');
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://o:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
      'OTEL_EXPORTER_OTLP_PROTOCOL must be one of http/json (got "grpc")',
    );
    // The header list holds credentials: a mistake in it is named, its value is not shown.
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'api-key secret' })).toThrow(
      'OTEL_EXPORTER_OTLP_HEADERS must be key=value pairs separated by commas (got "(hidden)")',
    );
  });

  it('reads secrets from the files their _FILE variables name, the final line break removed', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-secret-files-'));
    try {
      const file = (name: string, content: string) => {
        fs.writeFileSync(path.join(dir, name), content);
        return path.join(dir, name);
      };
      const config = loadConfig({
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'svc',
        KAFKA_SASL_PASSWORD_FILE: file('kafka', 'p@ss word\n'),
        SCHEMA_REGISTRY_USERNAME: 'reg',
        SCHEMA_REGISTRY_PASSWORD_FILE: file('registry', 'r3g'),
        C360_KEY_STORE_URL_FILE: file('keys', 'postgres://c360:s3cret@db.example:5432/keys\n'),
        C360_CATALOG_URL: 'https://catalog.example',
        C360_CATALOG_TOKEN_FILE: file('catalog', 'tok\n'),
      });
      expect(config.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc', password: 'p@ss word' });
      expect(config.schemaRegistry.auth).toEqual({ username: 'reg', password: 'r3g' });
      expect(config.keyStoreUrl).toBe('postgres://c360:s3cret@db.example:5432/keys');
      expect(config.catalog?.token).toBe('tok');
      expect(() => loadConfig({ KAFKA_SASL_PASSWORD: 'x', KAFKA_SASL_PASSWORD_FILE: file('k2', 'y') })).toThrow(
        /^KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set: set one of them\.$/,
      );
      expect(() => loadConfig({ C360_CATALOG_TOKEN_FILE: path.join(dir, 'missing') })).toThrow(
        new RegExp(`^C360_CATALOG_TOKEN_FILE names ${path.join(dir, 'missing')}, which cannot be read \\(ENOENT\\)\\.$`),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [{ KAFKA_BROKERS: 'localhost' }, /^KAFKA_BROKERS must be a comma-separated list of host:port pairs.*\(got "localhost"\)\.$/],
    [{ REDIS_URL: 'http://x' }, /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ SCHEMA_REGISTRY_URL: 'not a url' }, /^SCHEMA_REGISTRY_URL must be an http\(s\) URL/],
    [{ KAFKA_SSL: 'maybe' }, /^KAFKA_SSL must be one of (true|false|1|0|yes|no)(, (true|false|1|0|yes|no)){5} \(got "maybe"\)\.$/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of trace, debug/],
    [{ KAFKA_SASL_MECHANISM: 'plain' }, /^KAFKA_SASL_MECHANISM is plain but KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are missing\.$/],
    [
      { KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_TOKEN_URL: 'https://idp.example/token', KAFKA_SASL_OAUTHBEARER_CLIENT_ID: 'c' },
      /^KAFKA_SASL_MECHANISM is oauthbearer but KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET is missing\.$/,
    ],
    [{ KAFKA_SASL_MECHANISM: 'aws-msk-iam' }, /^KAFKA_SASL_MECHANISM is aws-msk-iam but AWS_REGION is missing\.$/],
    [{ C360_REPLICATION_FACTOR: '2', C360_MIN_INSYNC_REPLICAS: '3' }, /^C360_MIN_INSYNC_REPLICAS is 3, more than C360_REPLICATION_FACTOR \(2\)/],
  ])('rejects %o with one sentence naming the variable', (env, message) => {
    let thrown: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).code).toBe('config.invalid');
    expect((thrown as ConfigError).message).toMatch(message);
  });
});
