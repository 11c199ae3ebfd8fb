/** A topology source made ready to run: its reader schema, JSON coercer and natural-id reader. */
import type avro from 'avsc';
import { loadSchema } from '../schema/avro.js';
import { compileJsonCoercer } from '../schema/json-coerce.js';
import { readPath } from '../stages/quality/rule.js';
import type { SourceDefinition } from './definition.js';

export interface CompiledSource {
  name: string;
  /** The Avro record's short name (CustomerProfile), also the `entity` partition of the raw layer. */
  entity: string;
  definition: SourceDefinition;
  schema: Record<string, unknown>;
  type: avro.Type;
  coerceJson: ReturnType<typeof compileJsonCoercer>;
  naturalId(value: Record<string, unknown>): string;
}

export function compileSource(definition: SourceDefinition): CompiledSource {
  const { schema, type } = loadSchema(definition.entity);
  return {
    name: definition.name,
    entity: String(schema.name),
    definition,
    schema,
    type,
    coerceJson: compileJsonCoercer(schema),
    naturalId: (value) => {
      const id = readPath(value, definition.key);
      return id === undefined || id === null ? '' : String(id);
    },
  };
}
