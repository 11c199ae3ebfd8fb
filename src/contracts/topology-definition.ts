/**
 * The declarative shape of a topology (topologies/*.ts): sources, their entity schema, natural
 * key, dedup and near-duplicate settings and field-quality rules. topology/load.ts validates a
 * topology against it, and checks stage and rule names (and each rule's options) against the
 * registered components; a mistake is one sentence naming its path.
 */
import { z } from 'zod';

const fieldPath = z
  .string()
  .regex(/^[a-z_][a-z0-9_]*(\[\])?(\.[a-z_][a-z0-9_]*(\[\])?)*$/i, 'must be a dotted field path, e.g. address.country or line_items[].unit_price');

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
  privacy: z
    .object({
      subject: z
        .array(fieldPath)
        .min(1)
        .describe(
          'fields that name the person a record is about, in order: the first present one is its subject, whose key encrypts its personal fields (docs/privacy.md)',
        ),
    })
    .strict()
    .optional()
    .describe("without it, a record's subject is its natural id"),
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
    namespace: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]*$/)
      .default('c360'),
    dedupWindowDays: z.number().positive().default(30),
    nearDuplicateRefsPerKey: z.number().int().min(1).max(100).default(10),
    maxRecordBytes: z.number().int().positive().default(1_048_576),
    /** Stages in order, by registered name; a passthrough topology (benchmarks) lists none and copies bytes. */
    stages: z.array(z.string()).default(['decode', 'quality', 'suppress', 'dedup', 'near_duplicates', 'encrypt']),
    sources: z.array(source).min(1),
  })
  .strict();

export type TopologyInput = z.input<typeof topologySchema>;
export type Topology = z.output<typeof topologySchema>;
export type SourceDefinition = Topology['sources'][number];
export type EntityDefinition = SourceDefinition['entities'][number];

/** Identity for typing topology files; validation happens in loadTopology. */
export function defineTopology(topology: TopologyInput): TopologyInput {
  return topology;
}
