/**
 * A topology source made ready to run, one per entity it carries: the reader schema, JSON coercer
 * and natural-id reader. A source's first entity is its primary one (what a record without an
 * entity of its own is); the others are told apart by their Avro writer schema's name or a
 * `c360.entity` header.
 */
import type avro from 'avsc';
import type { EntityDefinition, SourceDefinition } from '../contracts/topology-definition.js';
import { loadSchema, parseType } from './avro.js';
import { readPath } from './field-path.js';
import { compileJsonCoercer } from './json-coerce.js';
import { encryptedSchema, type PersonalField, personalFields } from './personal.js';
import { loadTrackingPlan, withLandedProperties } from './tracking-plan.js';

export interface CompiledEntity {
  source: string;
  /** The Avro record's short name (CustomerProfile), also the `entity` partition of the raw layer. */
  name: string;
  /** `<source>` for the primary entity, `<source>/<Entity>` for the others: what per-entity state is keyed by. */
  id: string;
  primary: boolean;
  /** The source's settings with this entity's key, dedup, near-duplicate and quality settings. */
  definition: SourceDefinition;
  schema: Record<string, unknown>;
  /** The schema's full name (namespace.Name): how an Avro writer schema names its entity. */
  fullName: string;
  type: avro.Type;
  /** The fields its contract marks personal. */
  personal: PersonalField[];
  /**
   * The schema and type of its records once their personal fields are encrypted: what raw topics
   * and the raw layer hold; with the properties its tracking plan lands typed (`plan_properties`).
   */
  encrypted: { schema: Record<string, unknown>; type: avro.Type };
  coerceJson: ReturnType<typeof compileJsonCoercer>;
  naturalId(value: Record<string, unknown>): string;
}

function compileEntity(source: SourceDefinition, entity: EntityDefinition, primary: boolean): CompiledEntity {
  const { schema, type } = loadSchema(entity.entity);
  const definition: SourceDefinition = { ...source, ...entity, nearDuplicates: entity.nearDuplicates, privacy: entity.privacy, entities: [] };
  // A source's tracking plan is its primary entity's: the properties it types land as a column of the raw records.
  const plan = primary && source.plan ? loadTrackingPlan(source.plan) : undefined;
  const encrypted = withLandedProperties(encryptedSchema(schema), plan);
  const name = String(schema.name);
  return {
    source: source.name,
    name: name,
    id: primary ? source.name : `${source.name}/${name}`,
    primary,
    definition,
    schema,
    fullName: schema.namespace ? `${String(schema.namespace)}.${name}` : name,
    type,
    personal: personalFields(schema),
    encrypted: { schema: encrypted, type: parseType(encrypted) },
    coerceJson: compileJsonCoercer(schema),
    naturalId: (value) => {
      const id = readPath(value, entity.key);
      return id === undefined || id === null ? '' : String(id);
    },
  };
}

/** The source's primary entity. */
export function compilePrimaryEntity(definition: SourceDefinition): CompiledEntity {
  return compileEntity(definition, definition, true);
}

/** Every entity of the source, the primary first. */
export function compileEntities(definition: SourceDefinition): CompiledEntity[] {
  return [compilePrimaryEntity(definition), ...definition.entities.map((e) => compileEntity(definition, e, false))];
}
