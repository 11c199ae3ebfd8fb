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

/** Blocking keys of the near-duplicate stage (matching/blocking.ts builds them). */
const BLOCKING_KEYS = ['email', 'phone', 'device_id', 'name_postal', 'name_birth'] as const;
export type BlockingKey = (typeof BLOCKING_KEYS)[number];

const probability = z.number().gt(0).lt(1);

/** A Fellegi–Sunter model's parameters (what `c360 matching train` writes): per comparison, m and u of each level. */
export const matchModelSchema = z
  .object({
    prior: probability.describe('P(same person) of a candidate pair before any comparison'),
    comparisons: z.record(
      z.string(),
      z
        .object({
          m: z.array(probability).min(2).describe('P(level | same person), strongest agreement first'),
          u: z.array(probability).min(2).describe('P(level | different people) among candidate pairs'),
          randomExact: probability.optional().describe('how often two random records agree exactly: the term-frequency baseline'),
        })
        .strict()
        .refine((p) => p.m.length === p.u.length, 'must have as many m as u probabilities'),
    ),
  })
  .strict();
export type MatchModel = z.output<typeof matchModelSchema>;

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
      ignoreFields: z
        .array(fieldPath)
        .default([])
        .describe(
          "top-level fields left out of the content an event's duplicate is told by: those a resend changes though the event is the same (a time the collector stamps or corrects on arrival)",
        ),
    })
    .strict()
    .default({ ignoreFields: [] }),
  nearDuplicates: z
    .object({
      identityField: fieldPath.describe('records whose identity differs are different records; none → no near-duplicate check'),
      email: fieldPath.optional(),
      phone: fieldPath.optional(),
      deviceId: fieldPath.optional(),
      lastName: fieldPath.optional(),
      firstName: fieldPath.optional(),
      postalCode: fieldPath.optional(),
      birthDate: fieldPath.optional().describe('a date (Avro date or YYYY-MM-DD)'),
      address: fieldPath.optional().describe('the first address line'),
      loyaltyId: fieldPath.optional(),
      blocking: z
        .array(z.enum(BLOCKING_KEYS))
        .min(1)
        .optional()
        .describe('blocking keys that find candidate pairs; default: every key whose fields are configured'),
    })
    .strict()
    .optional(),
  quality: z.array(qualityCheck).default([]),
  plan: z
    .string()
    .min(1)
    .optional()
    .describe("a tracking plan file (JSON, relative to the project, e.g. plans/web.json): each event's properties as a JSON Schema, and what breaking it does"),
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
    /** How the near-duplicate stage scores a candidate pair, and from what probability it emits a NearDuplicate. */
    matching: z
      .object({
        threshold: z.number().min(0).max(1).default(0.5).describe('emit a NearDuplicate at or above this match probability'),
        model: matchModelSchema.optional().describe('m/u parameters from `c360 matching train`; default: the built-in model'),
      })
      .strict()
      .default({ threshold: 0.5 }),
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
