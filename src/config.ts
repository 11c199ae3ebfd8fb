/**
 * Process configuration, read once from the environment and validated at start.
 * A bad value is a ConfigError naming the variable, never a stack trace from deep inside a client.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CountryCode, isSupportedCountry } from 'libphonenumber-js';
import { z } from 'zod';
import type { SigV4Settings } from './auth/aws-sigv4.js';
import type { ClientCredentials } from './auth/oauth2.js';
import { COMPATIBILITY_LEVELS, type CompatibilityLevel } from './contracts/compatibility.js';
import { ConfigError } from './contracts/errors.js';
import { validated } from './contracts/validation.js';

const hostPort = /^[A-Za-z0-9.\-_[\]:]+:(\d{1,5})$/;
/** A TCP port a client can connect to. */
const connectable = (port: number) => Number.isInteger(port) && port >= 1 && port <= 65_535;

/** A URL of one of these schemes whose port, when it names one, a client can connect to (PostgreSQL may name a socket folder instead of a host). */
function urlOf(schemes: string[], hostRequired = true) {
  return (v: string) => {
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      return false;
    }
    return schemes.includes(url.protocol.replace(/:$/, '')) && (url.hostname !== '' || !hostRequired) && (url.port === '' || connectable(Number(url.port)));
  };
}

const booleanFlag = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Every environment variable c360 reads (docs/reference.md lists them from here). */
/** Secrets that may come from a file named by `<NAME>_FILE` (withSecretFiles). */
const FILE_SECRETS = [
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET',
  'SCHEMA_REGISTRY_PASSWORD',
  'C360_KEY_STORE_URL',
  'C360_CATALOG_TOKEN',
  'C360_CATALOG_CREDENTIAL',
  'C360_CONSOLE_TOKEN',
] as const;

function secretFile(name: (typeof FILE_SECRETS)[number]): string {
  return `a file holding ${name} (a mounted secret), read at start instead of the variable; set one of the two`;
}

export const envSchema = z.object({
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:9092')
    .transform((v) =>
      v
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    )
    .refine((list) => list.length > 0 && list.every((b) => connectable(Number(hostPort.exec(b)?.[1]))), {
      message: 'must be a comma-separated list of host:port pairs with ports from 1 to 65535, e.g. 127.0.0.1:9092',
    })
    .describe('comma-separated host:port list'),
  KAFKA_CLIENT_ID: z.string().min(1).default('c360-ingest').describe('client id prefix'),
  KAFKA_SSL: booleanFlag.default(false).describe('TLS to the brokers (default false; implied by the three files below)'),
  KAFKA_SSL_CA_FILE: z.string().min(1).optional().describe("PEM file of the CA(s) that signed the brokers' certificates, when not a public CA"),
  KAFKA_SSL_CERT_FILE: z.string().min(1).optional().describe('PEM client certificate, for brokers that require mutual TLS (with KAFKA_SSL_KEY_FILE)'),
  KAFKA_SSL_KEY_FILE: z.string().min(1).optional().describe('PEM private key of KAFKA_SSL_CERT_FILE'),
  KAFKA_SASL_MECHANISM: z
    .enum(['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer', 'aws-msk-iam'])
    .optional()
    .describe(
      'plain, scram-sha-256 or scram-sha-512 (with the user name and password below); oauthbearer (an OIDC client-credentials grant, the KAFKA_SASL_OAUTHBEARER_* settings); aws-msk-iam (AWS_REGION and the AWS credential chain)',
    ),
  KAFKA_SASL_USERNAME: z.string().optional().describe('SASL user name'),
  KAFKA_SASL_PASSWORD: z.string().optional().describe('SASL password'),
  KAFKA_SASL_PASSWORD_FILE: z.string().min(1).optional().describe(secretFile('KAFKA_SASL_PASSWORD')),
  KAFKA_SASL_OAUTHBEARER_TOKEN_URL: z.url().optional().describe("the OIDC provider's token endpoint, for KAFKA_SASL_MECHANISM=oauthbearer"),
  KAFKA_SASL_OAUTHBEARER_CLIENT_ID: z.string().optional().describe('the OIDC client id (client-credentials grant)'),
  KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: z.string().optional().describe('the OIDC client secret'),
  KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET_FILE: z.string().min(1).optional().describe(secretFile('KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET')),
  KAFKA_SASL_OAUTHBEARER_SCOPE: z.string().optional().describe('the scope to ask the token for, when the provider needs one'),
  AWS_REGION: z.string().optional().describe('the AWS region of an MSK cluster, for KAFKA_SASL_MECHANISM=aws-msk-iam (credentials: the AWS default chain)'),
  SCHEMA_REGISTRY_URL: z
    .url({ message: 'must be an http(s) URL' })
    .default('http://127.0.0.1:8081/apis/ccompat/v7')
    .describe('any Confluent-compatible registry'),
  SCHEMA_REGISTRY_USERNAME: z.string().optional().describe('registry basic-auth user'),
  SCHEMA_REGISTRY_PASSWORD: z.string().optional().describe('registry basic-auth password'),
  SCHEMA_REGISTRY_PASSWORD_FILE: z.string().min(1).optional().describe(secretFile('SCHEMA_REGISTRY_PASSWORD')),
  REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .refine(urlOf(['redis', 'rediss']), { message: 'must be a redis:// or rediss:// URL with a port from 1 to 65535' })
    .describe('dedup and near-duplicate state (Redis 7+, not a cluster spread over shards)'),
  C360_DATA_DIR: z.string().min(1).default('./data').describe('root of the raw layer and quarantine, unless C360_STORAGE_URL says otherwise'),
  C360_STORAGE_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || !/^[a-z0-9+]+:\/\//.test(v) || /^(s3|file):\/\/./.test(v), {
      message: 'must be a folder, file:///path or s3://bucket[/prefix]',
    })
    .describe('raw layer root: a folder, file:///path or s3://bucket/prefix (default: C360_DATA_DIR)'),
  C360_CATALOG_URL: z
    .url({ message: 'must be an http(s) URL' })
    .optional()
    .describe(
      "an Iceberg REST catalog's base URL (the one Spark's `uri` takes, e.g. http://127.0.0.1:8181): when set, the sink lands the layers as Iceberg tables in the namespace `<ns>` instead of as Parquet folders under C360_STORAGE_URL",
    ),
  C360_CATALOG_WAREHOUSE: z
    .string()
    .min(1)
    .optional()
    .describe("the catalog's warehouse, sent as `warehouse` when the client asks for its config (Polaris: the catalog name)"),
  C360_CATALOG_TOKEN: z.string().min(1).optional().describe('a bearer token for the REST catalog, sent only to the C360_CATALOG_URL origin'),
  C360_CATALOG_TOKEN_FILE: z.string().min(1).optional().describe(secretFile('C360_CATALOG_TOKEN')),
  C360_CATALOG_CREDENTIAL: z
    .string()
    .regex(/^[^:]+:.+$/, { message: 'must be <client_id>:<client_secret>' })
    .optional()
    .describe(
      "OAuth2 client credentials for the REST catalog (Polaris, Unity, Nessie with an identity provider), as Iceberg's own `credential` property takes them: <client_id>:<client_secret>; c360 asks C360_CATALOG_OAUTH2_SERVER_URI for tokens, renews them before they expire and sends them to the catalog only",
    ),
  C360_CATALOG_CREDENTIAL_FILE: z.string().min(1).optional().describe(secretFile('C360_CATALOG_CREDENTIAL')),
  C360_CATALOG_OAUTH2_SERVER_URI: z
    .url({ message: 'must be an http(s) URL' })
    .optional()
    .describe("the token endpoint the credential goes to (default: the catalog's own, C360_CATALOG_URL/v1/oauth/tokens)"),
  C360_CATALOG_SIGV4: z
    .string()
    .regex(/^[a-z0-9-]+$/, { message: 'must be an AWS signing name such as glue or s3tables' })
    .optional()
    .describe(
      "sign every catalog request with AWS SigV4 for this service (glue: Glue's Iceberg REST endpoint, s3tables: S3 Tables'), with credentials from the AWS default chain (environment, EKS web identity, profile, instance role)",
    ),
  C360_CATALOG_SIGV4_REGION: z.string().min(1).optional().describe('the region C360_CATALOG_SIGV4 signs for (default AWS_REGION)'),
  C360_CATALOG_SCOPE: z.string().min(1).default('catalog').describe('the scope asked for with the credential (Polaris: PRINCIPAL_ROLE:ALL)'),
  C360_CATALOG_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe('how long a call to the REST catalog may take before it fails and is retried (a commit whose answer is lost is then looked for in the table)'),
  C360_MEMORY_MB: z.coerce
    .number()
    .int()
    .min(128)
    .optional()
    .describe(
      "the process's memory budget (a pod's limit, less headroom): sets V8's heap (young generation 3/32 of it, old generation the rest less 96 MiB for what lives outside the heap, let double between full collections; glibc's mmap threshold fixed at 128 KiB: by the launcher), fetch sizes and cache sizes; the Kubernetes manifests set 3/4 of the memory limit; unset: 256 for the workers (run, sink, collect, connect, watch), and for one-shot commands Node's own heap limit, 4 MiB per partition fetch, 100,000 cached keys",
    ),
  C360_SPOOL_DIR: z
    .string()
    .min(1)
    .optional()
    .describe('where sinks write files before publishing them (default: <root>/_spool locally, a temp folder for S3)'),
  C360_S3_ENDPOINT: z
    .url({ message: 'must be an http(s) URL' })
    .optional()
    .describe('an S3-compatible endpoint, e.g. http://127.0.0.1:9090 (also AWS_ENDPOINT_URL_S3)'),
  C360_S3_FORCE_PATH_STYLE: booleanFlag.default(false).describe('path-style bucket addressing, as most S3-compatible servers need (default false)'),
  C360_S3_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe('how long an S3 call may go without a byte moving before it fails and is retried (connecting: at most 5 s; a whole call: at most 5 min)'),
  C360_HOME: z
    .string()
    .min(1)
    .default(path.join(os.homedir(), '.cache', 'c360'))
    .describe("the local stack's cache and state (default ~/.cache/c360)"),
  LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
    .default('info')
    .describe('pino level; personal data is never logged at info or above'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url({ message: 'must be an http(s) URL' })
    .optional()
    .describe(
      'an OTLP/HTTP receiver (an OpenTelemetry Collector, Tempo, Jaeger): when set, long-running commands export traces to <url>/v1/traces; unset, tracing is off',
    ),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .url({ message: 'must be an http(s) URL' })
    .optional()
    .describe('the full URL traces are posted to, instead of OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces'),
  OTEL_EXPORTER_OTLP_PROTOCOL: z
    .literal('http/json')
    .optional()
    .describe('the OTLP protocol: http/json, the only one c360 exports (an OpenTelemetry Collector takes it on its HTTP port, 4318)'),
  OTEL_EXPORTER_OTLP_HEADERS: z
    .string()
    .regex(/^[^=,]+=[^,]*(,[^=,]+=[^,]*)*$/, { message: 'must be key=value pairs separated by commas' })
    .optional()
    .describe('headers sent with every export, e.g. an API key: key=value pairs separated by commas, sent only to the OTLP endpoint'),
  OTEL_SERVICE_NAME: z.string().min(1).optional().describe("the traces' service name (default: c360-<command>, e.g. c360-collect)"),
  OTEL_TRACES_SAMPLER: z
    .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
    .default('parentbased_always_on')
    .describe('which traces are kept, as the OpenTelemetry SDKs name it; a record keeps the decision of the trace it arrived in'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1).describe('the share of traces the traceidratio samplers keep'),
  C360_CONSOLE_TOKEN: z
    .string()
    .min(16, { message: 'must be at least 16 characters' })
    .optional()
    .describe('the token every visitor of `c360 console` must give (/?token=…, then a cookie): required when it listens beyond loopback'),
  C360_CONSOLE_TOKEN_FILE: z.string().min(1).optional().describe(secretFile('C360_CONSOLE_TOKEN')),
  C360_OPS_PORT: z.coerce.number().int().min(0).max(65535).default(9464).describe('port of /metrics, /healthz and /readyz of long-running processes'),
  C360_TOPOLOGY: z
    .string()
    .min(1)
    .default('customer360')
    .describe('the topology every command runs (its --topology flag wins): a name in topologies/, or a .js/.json file'),
  C360_NAMESPACE: z.string().min(1).optional().describe("overrides the topology's namespace (its --namespace flag wins)"),
  C360_COLLECTOR_CONFIG: z.string().min(1).optional().describe('c360 collect: the settings file (its --config flag wins), e.g. a mounted Secret'),
  C360_COLLECTOR_PORT: z.coerce.number().int().min(0).max(65535).default(8088).describe('c360 collect: the port it listens on (its --port flag wins)'),
  C360_SESSION_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(1_800_000)
    .default(30_000)
    .describe('c360 run and c360 sink: how long the group waits for a silent member before giving its partitions away (--session-timeout wins)'),
  C360_SINK_IDLE_FLUSH_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(86_400_000)
    .optional()
    .describe('c360 sink: close a file that has had no record for this long (--idle-flush-ms wins; default 30000)'),
  C360_BUILD_COMMIT: z
    .string()
    .optional()
    .describe("the commit c360_build_info reports (the image sets it from its build argument; a checkout's HEAD otherwise)"),
  C360_REPLICATION_FACTOR: z.coerce
    .number()
    .int()
    .min(1)
    .max(32)
    .optional()
    .describe(
      "replicas of every topic c360 creates, checked against the cluster's broker count; unset, the broker's own default.replication.factor (as Kafka Streams' replication.factor=-1)",
    ),
  C360_MIN_INSYNC_REPLICAS: z.coerce
    .number()
    .int()
    .min(1)
    .max(32)
    .optional()
    .describe(
      "min.insync.replicas of every topic c360 creates: acks=all writes need this many replicas (at most the replication factor); unset, the broker's own min.insync.replicas",
    ),
  C360_SCHEMA_COMPATIBILITY: z
    .enum(COMPATIBILITY_LEVELS)
    .default('BACKWARD')
    .describe(
      'the compatibility level c360 sets on every subject it registers; the registry refuses a change that breaks it, and c360 schemas check tells before',
    ),
  C360_CREATE_TOPICS: booleanFlag
    .default(false)
    .describe(
      "whether a worker creates the topology's missing topics at start (run and sink: --create-topics); otherwise it refuses to start without them, and c360 topics create makes them",
    ),
  C360_HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe(
      'address the HTTP endpoints bind to (/metrics, /healthz, /readyz, and the collector unless --host): loopback for local use, 0.0.0.0 in a pod (the image sets it)',
    ),
  C360_MAX_EVENT_LOOP_STALL_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(10_000)
    .describe('/healthz fails when the event loop was blocked longer than this since the last probe (the process is wedged)'),
  C360_STALL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .default(300)
    .describe('a topology worker turns unready when a partition of its own has had records waiting this long without moving'),
  C360_ALLOW_UNMASK: booleanFlag
    .default(false)
    .describe(
      'lets this process reveal personal data (`quarantine show --unmask`); every reveal and every export is recorded with C360_ACTOR in privacy/<namespace>/access/',
    ),
  C360_ACTOR: z.string().min(1).optional().describe('who runs the command, as the privacy access log records it (default: the OS user @ host)'),
  C360_PHONE_REGION: z
    .string()
    .refine((v) => isSupportedCountry(v.toUpperCase()), 'must be an ISO 3166-1 alpha-2 country code libphonenumber knows, e.g. IE')
    .transform((v) => v.toUpperCase() as CountryCode)
    .optional()
    .describe(
      'the country a national phone number given to `c360 privacy` is read in (0851234567 → +353851234567 for IE); without it, phones must be international',
    ),
  C360_PII_KEY: z
    .string()
    .optional()
    .describe('secret (32+ bytes, base64) that keys personal values kept outside the records, e.g. near-duplicate keys in Redis (HMAC-SHA256)'),
  C360_PII_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('a file holding C360_PII_KEY (a mounted secret); default <C360_HOME>/secrets/pii.key, which c360 stack up creates'),
  C360_KEK: z.string().optional().describe("key-encryption key (32 bytes, base64) that wraps every subject's data key in the key store (docs/privacy.md)"),
  C360_KEK_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('a file holding C360_KEK (a mounted secret); default <C360_HOME>/secrets/kek.key, which c360 stack up creates'),
  C360_KEY_STORE_URL: z
    .string()
    .default('postgres://postgres@127.0.0.1:5432/postgres')
    .refine(urlOf(['postgres', 'postgresql'], false), { message: 'must be a postgres:// URL with a port from 1 to 65535' })
    .describe("PostgreSQL holding the subjects' wrapped data keys, identifier links, suppressions and the erasure log"),
  C360_KEY_STORE_URL_FILE: z.string().min(1).optional().describe(secretFile('C360_KEY_STORE_URL')),
});

export type SaslConfig =
  | { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string }
  | { mechanism: 'oauthbearer'; tokenUrl: string; clientId: string; clientSecret: string; scope?: string }
  | { mechanism: 'aws-msk-iam'; region: string };

function saslConfig(e: z.output<typeof envSchema>): SaslConfig | undefined {
  const missing = (names: Array<keyof typeof e>) => names.filter((n) => !e[n]);
  const require = (names: Array<keyof typeof e>) => {
    const absent = missing(names);
    if (absent.length > 0)
      throw new ConfigError(`KAFKA_SASL_MECHANISM is ${e.KAFKA_SASL_MECHANISM} but ${absent.join(' and ')} ${absent.length > 1 ? 'are' : 'is'} missing.`);
  };
  switch (e.KAFKA_SASL_MECHANISM) {
    case undefined:
      return undefined;
    case 'oauthbearer':
      require(['KAFKA_SASL_OAUTHBEARER_TOKEN_URL', 'KAFKA_SASL_OAUTHBEARER_CLIENT_ID', 'KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET']);
      return {
        mechanism: 'oauthbearer',
        tokenUrl: e.KAFKA_SASL_OAUTHBEARER_TOKEN_URL!,
        clientId: e.KAFKA_SASL_OAUTHBEARER_CLIENT_ID!,
        clientSecret: e.KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET!,
        ...(e.KAFKA_SASL_OAUTHBEARER_SCOPE ? { scope: e.KAFKA_SASL_OAUTHBEARER_SCOPE } : {}),
      };
    case 'aws-msk-iam':
      require(['AWS_REGION']);
      return { mechanism: 'aws-msk-iam', region: e.AWS_REGION! };
    default:
      require(['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']);
      return { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME!, password: e.KAFKA_SASL_PASSWORD! };
  }
}

/** What a memory budget (C360_MEMORY_MB) sizes; bin/c360.js sets the heap limit from it. */
export interface MemoryBudget {
  mb: number | undefined;
  /** Bytes a fetch brings per partition (hence per topology transaction or sink batch), and in all. */
  fetchBytesPerPartition: number;
  fetchBytes: number;
  /** Entries of each in-process cache of data keys and identifier links. */
  cacheEntries: number;
}

const MiB = 1024 * 1024;
const clampTo = (x: number, lo: number, hi: number) => Math.round(Math.min(hi, Math.max(lo, x)));

function memoryBudget(mb: number | undefined): MemoryBudget {
  if (mb === undefined) return { mb, fetchBytesPerPartition: 4 * MiB, fetchBytes: 16 * MiB, cacheEntries: 100_000 };
  // Fetch sizes and caches scale with the budget: a fixed per-partition fetch lets the full topology's decoded batches
  // outgrow a small heap (bench:topology measures it, docs/benchmarks.md).
  return {
    mb,
    fetchBytesPerPartition: clampTo((mb * MiB) / 1024, 64 * 1024, 4 * MiB),
    fetchBytes: clampTo((mb * MiB) / 64, MiB, 16 * MiB),
    cacheEntries: clampTo(mb * 100, 10_000, 100_000),
  };
}

export interface CatalogSettings {
  url: string;
  timeoutMs: number;
  warehouse?: string;
  token?: string;
  /** OAuth2 client credentials: tokens are asked for, renewed and sent instead of a fixed token. */
  oauth2?: ClientCredentials;
  /** AWS SigV4 instead of a token (Glue, S3 Tables). */
  sigv4?: SigV4Settings;
}

export interface Config {
  kafka: { brokers: string[]; clientId: string; ssl: KafkaTls; sasl?: SaslConfig };
  schemaRegistry: { url: string; auth?: { username: string; password: string } };
  redisUrl: string;
  dataDir: string;
  /** Root of the raw layer: a local folder or s3://bucket/prefix. */
  storageUrl: string;
  /** Where sink files are written before they are published (default: inside a local store, else a temp folder). */
  spoolDir: string | undefined;
  /** An Iceberg REST catalog: when set, the sink writes tables instead of folders. */
  catalog: CatalogSettings | undefined;
  memory: MemoryBudget;
  s3: S3Settings;
  /** Where the local stack keeps its downloaded jars (cache) and its logs, pids and data (state). */
  home: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  opsPort: number;
  host: string;
  maxEventLoopStallMs: number;
  stallMs: number;
  /** OpenTelemetry traces, when an OTLP endpoint is configured. */
  tracing: TracingSettings | undefined;
  /** Whether this process may reveal personal data (`quarantine show --unmask`). */
  allowUnmask: boolean;
  /** What a visitor of the console must give, when it listens beyond loopback. */
  consoleToken: string | undefined;
  /** The country national phone numbers given to `c360 privacy` are read in. */
  phoneRegion: CountryCode | undefined;
  /** The secret personal values are keyed with outside the records (HMAC), when one is configured. */
  piiKey: Buffer | undefined;
  /** The key-encryption key of the subjects' data keys, when one is configured. */
  kek: Buffer | undefined;
  keyStoreUrl: string;
  schemaCompatibility: CompatibilityLevel;
  /** Workers create missing topics at start only when asked; otherwise they require them. */
  createTopics: boolean;
  /** The durability of every topic c360 creates. */
  topics: TopicDurability;
}

/** The catalog's OAuth2 client: Iceberg's `credential` split at its first colon, sent in the form as Iceberg's clients send it. */
function catalogCredentials(e: z.output<typeof envSchema>, catalogUrl: string, credential: string): ClientCredentials {
  if (e.C360_CATALOG_TOKEN) throw new ConfigError('C360_CATALOG_TOKEN and C360_CATALOG_CREDENTIAL are both set: set one of them.');
  const at = credential.indexOf(':');
  return {
    tokenUrl: e.C360_CATALOG_OAUTH2_SERVER_URI ?? `${catalogUrl.replace(/\/+$/, '')}/v1/oauth/tokens`,
    clientId: credential.slice(0, at),
    clientSecret: credential.slice(at + 1),
    scope: e.C360_CATALOG_SCOPE,
    clientAuth: 'form',
  };
}

/** AWS SigV4 for the catalog: the one way it authenticates, for the region given or AWS_REGION's. */
function catalogSigV4(e: z.output<typeof envSchema>, service: string): SigV4Settings {
  if (e.C360_CATALOG_TOKEN || e.C360_CATALOG_CREDENTIAL)
    throw new ConfigError('C360_CATALOG_SIGV4 signs every catalog request: unset C360_CATALOG_TOKEN and C360_CATALOG_CREDENTIAL.');
  const region = e.C360_CATALOG_SIGV4_REGION ?? e.AWS_REGION;
  if (!region) throw new ConfigError('C360_CATALOG_SIGV4 needs a region: set C360_CATALOG_SIGV4_REGION or AWS_REGION.');
  return { service, region };
}

/** Where and which traces go (OTEL_* variables, named as the OpenTelemetry SDKs name them). */
export interface TracingSettings {
  url: string;
  headers: Record<string, string>;
  serviceName: string | undefined;
  sampler: z.infer<typeof envSchema>['OTEL_TRACES_SAMPLER'];
  ratio: number;
}

function tracingSettings(e: z.output<typeof envSchema>): TracingSettings | undefined {
  const url = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (e.OTEL_EXPORTER_OTLP_ENDPOINT && `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`);
  if (!url) return undefined;
  const headers = Object.fromEntries(
    (e.OTEL_EXPORTER_OTLP_HEADERS ?? '')
      .split(',')
      .filter((pair) => pair !== '')
      .map((pair) => {
        const at = pair.indexOf('=');
        try {
          return [decodeURIComponent(pair.slice(0, at).trim()), decodeURIComponent(pair.slice(at + 1).trim())];
        } catch {
          throw new ConfigError('OTEL_EXPORTER_OTLP_HEADERS has a %-escape that is not valid UTF-8 (value hidden).');
        }
      }),
  );
  return { url, headers, serviceName: e.OTEL_SERVICE_NAME, sampler: e.OTEL_TRACES_SAMPLER, ratio: e.OTEL_TRACES_SAMPLER_ARG };
}

/** How c360 reaches S3 or an S3-compatible server (the raw layer, a bucket landing zone). */
export interface S3Settings {
  endpoint: string | undefined;
  forcePathStyle: boolean;
  /** How long a call may go without a byte moving. */
  timeoutMs: number;
}

/** Replicas and min.insync.replicas of the topics c360 creates; each, unset, is the broker's default. */
export interface TopicDurability {
  replicationFactor?: number;
  minInsyncReplicas?: number;
}

/** TLS to the brokers: off, on with the system's CAs, or with the PEM contents of the files named (read once, at start). */
type KafkaTls = boolean | { ca?: string[]; cert?: string; key?: string };

function kafkaTls(e: z.output<typeof envSchema>): KafkaTls {
  const files = { ca: e.KAFKA_SSL_CA_FILE, cert: e.KAFKA_SSL_CERT_FILE, key: e.KAFKA_SSL_KEY_FILE };
  if (!files.ca && !files.cert && !files.key) return e.KAFKA_SSL;
  if (Boolean(files.cert) !== Boolean(files.key))
    throw new ConfigError('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together: set both for mutual TLS, or neither.');
  const read = (variable: string, file: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      throw new ConfigError(`${variable} ${file} cannot be read.`);
    }
  };
  return {
    ...(files.ca ? { ca: [read('KAFKA_SSL_CA_FILE', files.ca)] } : {}),
    ...(files.cert ? { cert: read('KAFKA_SSL_CERT_FILE', files.cert) } : {}),
    ...(files.key ? { key: read('KAFKA_SSL_KEY_FILE', files.key) } : {}),
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings are treated as unset, as shells and CI templates often export them that way.
  const present = withSecretFiles(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')));
  const e = validated(envSchema, present, (_path, message, issue) => {
    const variable = String(issue.path[0] ?? 'environment');
    return `${variable} ${describeIssue(issue, message, shownValue(variable, present[variable]))}`;
  });
  if (e.C360_MIN_INSYNC_REPLICAS !== undefined && e.C360_REPLICATION_FACTOR !== undefined && e.C360_MIN_INSYNC_REPLICAS > e.C360_REPLICATION_FACTOR) {
    throw new ConfigError(
      `C360_MIN_INSYNC_REPLICAS is ${e.C360_MIN_INSYNC_REPLICAS}, more than C360_REPLICATION_FACTOR (${e.C360_REPLICATION_FACTOR}): no write could ever be acknowledged.`,
    );
  }
  const sasl = saslConfig(e);
  const registryAuth =
    e.SCHEMA_REGISTRY_USERNAME && e.SCHEMA_REGISTRY_PASSWORD ? { username: e.SCHEMA_REGISTRY_USERNAME, password: e.SCHEMA_REGISTRY_PASSWORD } : undefined;
  return {
    kafka: { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID, ssl: kafkaTls(e), ...(sasl ? { sasl } : {}) },
    schemaRegistry: { url: e.SCHEMA_REGISTRY_URL.replace(/\/+$/, ''), ...(registryAuth ? { auth: registryAuth } : {}) },
    redisUrl: e.REDIS_URL,
    dataDir: path.resolve(e.C360_DATA_DIR),
    storageUrl: e.C360_STORAGE_URL ?? path.resolve(e.C360_DATA_DIR),
    spoolDir: e.C360_SPOOL_DIR ? path.resolve(e.C360_SPOOL_DIR) : undefined,
    catalog: e.C360_CATALOG_URL
      ? {
          url: e.C360_CATALOG_URL.replace(/\/+$/, ''),
          timeoutMs: e.C360_CATALOG_TIMEOUT_MS,
          ...(e.C360_CATALOG_WAREHOUSE ? { warehouse: e.C360_CATALOG_WAREHOUSE } : {}),
          ...(e.C360_CATALOG_TOKEN ? { token: e.C360_CATALOG_TOKEN } : {}),
          ...(e.C360_CATALOG_CREDENTIAL ? { oauth2: catalogCredentials(e, e.C360_CATALOG_URL, e.C360_CATALOG_CREDENTIAL) } : {}),
          ...(e.C360_CATALOG_SIGV4 ? { sigv4: catalogSigV4(e, e.C360_CATALOG_SIGV4) } : {}),
        }
      : undefined,
    memory: memoryBudget(e.C360_MEMORY_MB),
    s3: { endpoint: e.C360_S3_ENDPOINT ?? process.env.AWS_ENDPOINT_URL_S3, forcePathStyle: e.C360_S3_FORCE_PATH_STYLE, timeoutMs: e.C360_S3_TIMEOUT_MS },
    home: path.resolve(e.C360_HOME),
    logLevel: e.LOG_LEVEL,
    opsPort: e.C360_OPS_PORT,
    host: e.C360_HOST,
    maxEventLoopStallMs: e.C360_MAX_EVENT_LOOP_STALL_MS,
    stallMs: e.C360_STALL_SECONDS * 1000,
    tracing: tracingSettings(e),
    allowUnmask: e.C360_ALLOW_UNMASK,
    consoleToken: e.C360_CONSOLE_TOKEN,
    phoneRegion: e.C360_PHONE_REGION,
    piiKey: secretOf('C360_PII_KEY', e.C360_PII_KEY, e.C360_PII_KEY_FILE, path.join(path.resolve(e.C360_HOME), 'secrets', 'pii.key')),
    kek: secretOf('C360_KEK', e.C360_KEK, e.C360_KEK_FILE, path.join(path.resolve(e.C360_HOME), 'secrets', 'kek.key')),
    keyStoreUrl: e.C360_KEY_STORE_URL,
    schemaCompatibility: e.C360_SCHEMA_COMPATIBILITY,
    createTopics: e.C360_CREATE_TOPICS,
    topics: {
      ...(e.C360_REPLICATION_FACTOR !== undefined ? { replicationFactor: e.C360_REPLICATION_FACTOR } : {}),
      ...(e.C360_MIN_INSYNC_REPLICAS !== undefined ? { minInsyncReplicas: e.C360_MIN_INSYNC_REPLICAS } : {}),
    },
  };
}

/**
 * The secrets that may come from a file instead (a mounted Kubernetes Secret, Docker's
 * /run/secrets): `<NAME>_FILE` names it, its content with the final line break removed is the
 * value. The personal-data keys have their own files, with development defaults (secretOf).
 */
function withSecretFiles(present: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...present };
  for (const name of FILE_SECRETS) {
    const file = present[`${name}_FILE`];
    if (file === undefined) continue;
    if (present[name] !== undefined) throw new ConfigError(`${name} and ${name}_FILE are both set: set one of them.`);
    try {
      out[name] = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`${name}_FILE names ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}).`);
    }
  }
  return out;
}

/** A 32-byte secret from its variable, else from its file (named, or the development default when it exists). */
function secretOf(name: string, value: string | undefined, namedFile: string | undefined, defaultFile: string): Buffer | undefined {
  let text = value;
  let from = name;
  if (text === undefined) {
    const file = namedFile ?? defaultFile;
    if (!fs.existsSync(file)) {
      if (namedFile !== undefined) throw new ConfigError(`${name}_FILE ${file} does not exist.`);
      return undefined;
    }
    text = fs.readFileSync(file, 'utf8').trim();
    from = `${name}_FILE ${file}`;
  }
  const key = Buffer.from(text, 'base64');
  if (key.length < 32) throw new ConfigError(`${from} must hold at least 32 bytes, base64-encoded (got ${key.length}).`);
  return key;
}

/** A setting's value as a message may show it: a secret's never, a URL's password masked. */
function shownValue(variable: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (/PASSWORD|SECRET|CREDENTIAL|TOKEN$|_KEK$|PII_KEY$|OTLP_HEADERS$/.test(variable)) return '(hidden)';
  return value.replace(/(\/\/[^/:@]*:)[^@/]*@/, '$1***@');
}

function describeIssue(issue: z.core.$ZodIssue, message: string, value: unknown): string {
  const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)})`;
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `must be one of ${issue.values.map(String).join(', ')}${shown}`;
  }
  return `${/^must /.test(message) ? message : `is invalid: ${message}`}${shown}`;
}

/** A JSON settings file (mapping, collector, connector), read whole; unreadable JSON is one sentence naming the file. */
export function readJsonFile(file: string, what: string): unknown {
  try {
    // A byte-order mark, as some editors write one, is not JSON but is not a mistake either.
    return JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ConfigError(`${what} ${file} is not readable JSON (${(err as Error).message}).`);
  }
}

/** Validates settings against their schema; the first problem becomes one sentence with its path. */
export function parseSettings<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  return validated(schema, input, (path, message) => `${what}: ${path || '(root)'} ${message}`);
}
