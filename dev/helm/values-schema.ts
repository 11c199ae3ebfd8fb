/**
 * The chart's values.schema.json, which Helm checks every install, upgrade, lint and template
 * against: every value typed, unknown keys refused (a typo fails instead of being ignored), and
 * `config` and `secrets.values` limited to the environment variables c360 reads (src/config.ts),
 * so a misspelt variable is named at install, not silently unused by every pod.
 */
import { envSchema } from '../../src/config.js';

const SECRET_ONLY = ['KEDA_KAFKA_SASL', 'KEDA_KAFKA_TLS'];
/** What the chart sets itself, from its own values or for the pod's filesystem: not for `config`. */
const CHART_SET = ['C360_NAMESPACE', 'C360_MEMORY_MB', 'C360_SPOOL_DIR', 'C360_HOME', 'C360_HOST', 'C360_OPS_PORT', 'KAFKA_SSL_CA_FILE'];

const string = { type: 'string' };
const quantity = { anyOf: [{ type: 'string', pattern: '^[0-9.]+(m|Ki|Mi|Gi|Ti|k|M|G|T)?$' }, { type: 'number' }] };
const resources = {
  type: 'object',
  additionalProperties: false,
  required: ['requests', 'limits'],
  properties: {
    requests: { type: 'object', additionalProperties: false, required: ['cpu', 'memory'], properties: { cpu: quantity, memory: quantity } },
    limits: { type: 'object', additionalProperties: false, required: ['cpu', 'memory'], properties: { cpu: quantity, memory: quantity } },
  },
};
const memoryMb = { type: 'integer', minimum: 64, description: 'C360_MEMORY_MB: three quarters of the memory limit' };
const replicas = { type: 'integer', minimum: 1 };
const scaled = (description: string) => ({
  type: 'object',
  description,
  additionalProperties: false,
  required: ['minReplicas', 'maxReplicas', 'lagThreshold', 'memoryMb', 'resources'],
  properties: {
    minReplicas: replicas,
    maxReplicas: replicas,
    lagThreshold: { type: 'integer', minimum: 1 },
    memoryMb,
    resources,
    spoolSize: quantity,
  },
});
/** A worker kind's name inside its objects' names: DNS-label characters. */
const entryName = { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$' };
const environment = (names: string[]) => ({
  type: 'object',
  propertyNames: { enum: names },
  additionalProperties: { type: ['string', 'number', 'boolean'] },
});

export function valuesSchema(): Record<string, unknown> {
  const variables = Object.keys(envSchema.shape)
    .filter((name) => !CHART_SET.includes(name))
    .sort();
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'c360-ingest chart values',
    type: 'object',
    additionalProperties: false,
    properties: {
      image: {
        type: 'object',
        additionalProperties: false,
        properties: { repository: { type: 'string', minLength: 1 }, tag: string, pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] } },
      },
      imagePullSecrets: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: string } } },
      namespace: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9._-]*$', description: 'C360_NAMESPACE: the prefix of topics, groups and tables' },
      config: { ...environment(variables), description: 'the environment of every worker (docs/reference.md)' },
      secrets: {
        type: 'object',
        additionalProperties: false,
        properties: {
          existingSecret: string,
          values: { ...environment([...variables, ...SECRET_ONLY].sort()), description: 'made into <release>-secrets when existingSecret is empty' },
        },
      },
      serviceAccount: { type: 'object', additionalProperties: false, properties: { annotations: { type: 'object', additionalProperties: string } } },
      kafkaCa: { type: 'object', additionalProperties: false, properties: { existingSecret: string } },
      setup: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' }, resources } },
      keda: {
        type: 'object',
        additionalProperties: false,
        properties: {
          enabled: { type: 'boolean' },
          pollingInterval: { type: 'integer', minimum: 1 },
          scaleDownStabilizationSeconds: { type: 'integer', minimum: 0 },
        },
      },
      topology: scaled('the topology workers (c360 run)'),
      sink: scaled('the sink workers (c360 sink)'),
      collector: {
        type: 'object',
        additionalProperties: false,
        properties: {
          enabled: { type: 'boolean' },
          replicas,
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          memoryMb,
          resources,
          existingSecret: string,
          settings: { type: 'object', description: "collector.json's content (docs/collector.md), when existingSecret is empty" },
          ingress: {
            type: 'object',
            additionalProperties: false,
            properties: {
              enabled: { type: 'boolean' },
              className: string,
              host: string,
              tlsSecret: string,
              annotations: { type: 'object', additionalProperties: string },
            },
          },
        },
      },
      connectors: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'settings'],
          properties: { name: entryName, settings: { type: 'object', description: 'the connector file (docs/ingestion.md)' }, memoryMb, resources },
        },
      },
      landingZones: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'zone'],
          properties: {
            name: entryName,
            zone: { type: 'string', pattern: '^(/|s3://)', description: 'a folder (on the claim) or s3://bucket/prefix' },
            existingClaim: string,
            claim: {
              type: 'object',
              additionalProperties: false,
              required: ['size', 'accessModes'],
              properties: {
                size: quantity,
                accessModes: { type: 'array', minItems: 1, items: { enum: ['ReadWriteOnce', 'ReadWriteMany', 'ReadWriteOncePod'] } },
                storageClassName: string,
              },
            },
            memoryMb,
            resources,
          },
        },
      },
      smallWorker: { type: 'object', additionalProperties: false, required: ['memoryMb', 'resources'], properties: { memoryMb, resources } },
      lag: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' }, memoryMb, resources } },
      checks: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' }, memoryMb, resources } },
      monitoring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          serviceMonitor: { type: 'boolean' },
          podMonitor: { type: 'boolean' },
          interval: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' },
          prometheusRule: { type: 'boolean' },
          runbookUrl: {
            anyOf: [{ const: '' }, { type: 'string', pattern: '^https?://[^#]+$' }],
            description: "docs/runbooks.md where it is published: each alert's runbook_url",
          },
          grafanaDashboard: { type: 'boolean' },
        },
      },
      networkPolicy: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' }, monitoringNamespace: string } },
      kustomizeBase: { type: 'boolean' },
    },
  };
}
