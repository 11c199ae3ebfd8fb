/**
 * The declarative shape of a topology (topologies/*.ts): sources, their entity schema, natural
 * key, dedup and near-duplicate settings and field-quality rules. Validated at load, with every
 * rule's options checked against the rule's own schema; a mistake is one sentence naming its path.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { RULES } from '../stages/quality/rules/index.js';
import { listSchemas } from '../schema/avro.js';

const fieldPath = z.string().regex(/^[a-z_][a-z0-9_]*(\[\])?(\.[a-z_][a-z0-9_]*(\[\])?)*$/i, 'must be a dotted field path, e.g. address.country or line_items[].unit_price');

const qualityCheck = z
  .object({
    field: fieldPath,
    rule: z.string(),
    options: z.unknown().optional(),
    severity: z.enum(['error', 'warn']).default('error'),
  })
  .strict();

/** What a source says about one entity it carries: its schema, natural key, dedup, near-duplicate and quality settings. */
const entitySpec = {
  entity: z.string().describe('file name of the Avro schema in avro/, without .avsc'),
  key: fieldPath.describe('natural id of the entity: the Kafka key of its raw records'),
  dedup: z
    .object({
      eventIdField: fieldPath.optional().describe('events: a duplicate is the same id with the same content; same id, other content is an id collision'),
    })
    .strict()
    .default({}),
  nearDuplicates: z
    .object({
      identityField: fieldPath.describe('records whose identity differs are different records; none → no near-duplicate check'),
      email: fieldPath.optional(),
      phone: fieldPath.optional(),
      deviceId: fieldPath.optional(),
      lastName: fieldPath.optional(),
      firstName: fieldPath.optional(),
      postalCode: fieldPath.optional(),
    })
    .strict()
    .optional(),
  quality: z.array(qualityCheck).default([]),
};

const source = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes'),
    description: z.string().optional(),
    partitions: z.number().int().min(1).max(1024).default(3),
    ...entitySpec,
    /**
     * Further entities the same system sends (a shop's products beside its orders). Records say
     * which they are by their Avro writer schema's name, or by a `c360.entity` header for JSON.
     */
    entities: z.array(z.object(entitySpec).strict()).default([]),
  })
  .strict();

export const topologySchema = z
  .object({
    name: z.string(),
    /** Prefix of every topic, consumer group, transactional id and Redis key: `c360` in production, unique per test. */
    namespace: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/).default('c360'),
    dedupWindowDays: z.number().positive().default(30),
    nearDuplicateRefsPerKey: z.number().int().min(1).max(100).default(10),
    maxRecordBytes: z.number().int().positive().default(1_048_576),
    /** Stages in order, by registered name; a passthrough topology (benchmarks) lists none and copies bytes. */
    stages: z.array(z.enum(['decode', 'quality', 'dedup', 'near_duplicates'])).default(['decode', 'quality', 'dedup', 'near_duplicates']),
    sources: z.array(source).min(1),
  })
  .strict();

export type TopologyInput = z.input<typeof topologySchema>;
export type Topology = z.output<typeof topologySchema>;
export type SourceDefinition = Topology['sources'][number];
export type QualityCheckDefinition = SourceDefinition['quality'][number];
export type EntityDefinition = SourceDefinition['entities'][number];

/** Identity for typing topology files; validation happens in loadTopology. */
export function defineTopology(topology: TopologyInput): TopologyInput {
  return topology;
}

export function validateTopology(input: unknown, overrides: { namespace?: string } = {}): Topology {
  const parsed = topologySchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`topology ${issue.path.join('.') || '(root)'} ${issue.message.replace(/^Invalid input: /, '')}.`);
  }
  const topology = { ...parsed.data, ...(overrides.namespace ? { namespace: overrides.namespace } : {}) };
  const schemas = new Set(listSchemas());
  const names = new Set<string>();
  topology.sources.forEach((s, i) => {
    if (names.has(s.name)) throw new ConfigError(`topology sources.${i}.name "${s.name}" is declared twice.`);
    names.add(s.name);
    const entities = [s, ...s.entities];
    entities.forEach((e, k) => {
      const where = k === 0 ? `sources.${i}` : `sources.${i}.entities.${k - 1}`;
      if (!schemas.has(e.entity)) throw new ConfigError(`topology ${where}.entity "${e.entity}" has no schema in avro/ (known: ${[...schemas].join(', ')}).`);
      if (entities.findIndex((x) => x.entity === e.entity) !== k) throw new ConfigError(`topology ${where}.entity "${e.entity}" is declared twice for source ${s.name}.`);
      e.quality.forEach((q, j) => {
        const rule = RULES.get(q.rule);
        if (!rule) throw new ConfigError(`topology ${where}.quality.${j}.rule "${q.rule}" is not a known rule (known: ${[...RULES.keys()].join(', ')}).`);
        const options = rule.options.safeParse(q.options);
        if (!options.success) {
          const issue = options.error.issues[0]!;
          throw new ConfigError(`topology ${where}.quality.${j}.options${issue.path.length ? `.${issue.path.join('.')}` : ''} for rule ${q.rule}: ${issue.message}.`);
        }
        q.options = options.data;
      });
    });
  });
  return topology;
}
