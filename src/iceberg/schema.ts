/**
 * A table schema from an Avro contract, with Iceberg's field ids. Ids are the table's: a column the
 * table has keeps its id (matched by its path of names), a column it lacks gets the next free id, so
 * a compatible contract change evolves the table and never renumbers a column. Every column is
 * optional in the table: rows written before a column existed have none, and Avro's compatible
 * changes (a field added with a default, a field removed) never need a column to be non-null.
 *
 * Paths name nested ids the way Parquet writers need them: `a.b` for a struct's field, `a.element`
 * for a list's element, `a.key` and `a.value` for a map's.
 */
import { SchemaError } from '../contracts/errors.js';
import type { IcebergType, NestedField, StructType, TableSchema } from './table-metadata.js';

type Json = string | Record<string, unknown> | unknown[];

/** A column type before ids: a primitive's name, or a nested type whose children are drafts. */
type Draft =
  | { kind: 'primitive'; type: string }
  | { kind: 'struct'; fields: Array<{ name: string; type: Draft; doc?: string }> }
  | { kind: 'list'; element: Draft }
  | { kind: 'map'; value: Draft };

const PRIMITIVES: Record<string, string> = {
  string: 'string',
  bytes: 'binary',
  boolean: 'boolean',
  int: 'int',
  long: 'long',
  float: 'float',
  double: 'double',
};

/** Type changes Iceberg allows without rewriting data: the table's type widens, files keep theirs. */
const WIDENS: Record<string, string[]> = { int: ['long'], float: ['double'] };

class AvroTypes {
  private readonly named = new Map<string, Record<string, unknown>>();

  draft(schema: Json, where: string): Draft {
    if (Array.isArray(schema)) {
      const other = schema.filter((b) => b !== 'null') as Json[];
      if (other.length !== 1 || schema.length !== 2)
        throw new SchemaError(`Avro field "${where}" is a union of ${JSON.stringify(schema)}; tables hold only ["null", T] unions.`);
      return this.draft(other[0]!, where);
    }
    if (typeof schema === 'string') {
      const primitive = PRIMITIVES[schema];
      if (primitive) return { kind: 'primitive', type: primitive };
      const found = this.named.get(schema) ?? this.named.get(schema.split('.').pop()!);
      if (!found) throw new SchemaError(`Avro schema refers to unknown type "${schema}".`);
      return this.draft(found, where);
    }
    switch (schema.logicalType) {
      case 'date':
        return { kind: 'primitive', type: 'date' };
      case 'timestamp-millis':
      case 'timestamp-micros':
        return { kind: 'primitive', type: 'timestamptz' };
      case 'decimal':
        return { kind: 'primitive', type: `decimal(${Number(schema.precision ?? 38)}, ${Number(schema.scale ?? 0)})` };
    }
    const type = schema.type as Json;
    if (type === 'record' || type === 'enum' || type === 'fixed') {
      this.named.set(String(schema.name), schema);
      this.named.set(String(schema.name).split('.').pop()!, schema);
    }
    if (type === 'record') {
      return {
        kind: 'struct',
        fields: (schema.fields as Array<{ name: string; type: Json; doc?: string }>).map((f) => ({
          name: f.name,
          type: this.draft(f.type, `${where}.${f.name}`),
          ...(f.doc ? { doc: f.doc } : {}),
        })),
      };
    }
    if (type === 'enum') return { kind: 'primitive', type: 'string' };
    if (type === 'fixed') return { kind: 'primitive', type: `fixed[${Number(schema.size)}]` };
    if (type === 'array') return { kind: 'list', element: this.draft(schema.items as Json, `${where}[]`) };
    if (type === 'map') return { kind: 'map', value: this.draft(schema.values as Json, `${where}{}`) };
    return this.draft(type, where);
  }
}

/** Ids by path in an existing schema, and the primitive type at each path. */
function indexSchema(struct: StructType): Map<string, { id: number; type: IcebergType }> {
  const index = new Map<string, { id: number; type: IcebergType }>();
  const visit = (type: IcebergType, path: string) => {
    if (typeof type === 'string') return;
    if (type.type === 'struct') {
      for (const f of type.fields) {
        const p = path ? `${path}.${f.name}` : f.name;
        index.set(p, { id: f.id, type: f.type });
        visit(f.type, p);
      }
    } else if (type.type === 'list') {
      index.set(`${path}.element`, { id: type['element-id'], type: type.element });
      visit(type.element, `${path}.element`);
    } else {
      index.set(`${path}.key`, { id: type['key-id'], type: type.key });
      index.set(`${path}.value`, { id: type['value-id'], type: type.value });
      visit(type.value, `${path}.value`);
    }
  };
  visit(struct, '');
  return index;
}

export interface SchemaFit {
  /** The table's schema with every column of the contract: the current one when nothing is new. */
  schema: StructType;
  /** Whether the table must evolve (new columns, widened types) before files of this contract are committed. */
  evolves: boolean;
  lastColumnId: number;
  /** Field ids by path, for the Parquet file's columns. */
  ids: Map<string, number>;
}

/**
 * Fits an Avro record (with extra lineage fields) to a table's current schema, or to an empty one
 * for a new table. Throws SchemaError for a change Iceberg cannot make in place (a column whose
 * type changes otherwise than by widening, a struct that becomes a list).
 */
export function fitSchema(
  record: Record<string, unknown>,
  extraFields: ReadonlyArray<Record<string, unknown>>,
  table: TableSchema | undefined,
  lastColumnId: number,
): SchemaFit {
  const draft = new AvroTypes().draft({ ...record, fields: [...(record.fields as unknown[]), ...extraFields] }, String(record.name));
  if (draft.kind !== 'struct') throw new SchemaError(`Avro schema ${String(record.name)} is not a record.`);
  const existing = table ? indexSchema(table) : new Map<string, { id: number; type: IcebergType }>();
  let next = lastColumnId;
  let evolves = false;
  const ids = new Map<string, number>();
  const idOf = (path: string): number => {
    const id = existing.get(path)?.id ?? ++next;
    if (!existing.has(path)) evolves = true;
    ids.set(path, id);
    return id;
  };
  const build = (d: Draft, path: string): IcebergType => {
    const before = existing.get(path)?.type;
    if (d.kind === 'primitive') {
      if (before === undefined || before === d.type) return d.type;
      if (typeof before === 'string' && WIDENS[before]?.includes(d.type)) {
        evolves = true;
        return d.type;
      }
      // The table is wider than the contract (long and an int writer): files keep the narrower type, readers widen it.
      if (typeof before === 'string' && WIDENS[d.type]?.includes(before)) return before;
      throw new SchemaError(`column ${path} is ${typeName(before)} in the table and ${d.type} in the contract; Iceberg cannot change it in place.`);
    }
    if (before !== undefined && (typeof before === 'string' || before.type !== d.kind)) {
      throw new SchemaError(`column ${path} is ${typeName(before)} in the table and a ${d.kind} in the contract; Iceberg cannot change it in place.`);
    }
    if (d.kind === 'struct') return struct(d.fields, path);
    if (d.kind === 'list') {
      const id = idOf(`${path}.element`);
      return { type: 'list', 'element-id': id, element: build(d.element, `${path}.element`), 'element-required': false };
    }
    const keyId = idOf(`${path}.key`);
    const valueId = idOf(`${path}.value`);
    return { type: 'map', 'key-id': keyId, key: 'string', 'value-id': valueId, value: build(d.value, `${path}.value`), 'value-required': false };
  };
  const struct = (fields: Array<{ name: string; type: Draft; doc?: string }>, path: string): StructType => {
    const built: NestedField[] = fields.map((f) => {
      const p = path ? `${path}.${f.name}` : f.name;
      const id = idOf(p);
      return { id, name: f.name, required: false, type: build(f.type, p), ...(f.doc ? { doc: f.doc } : {}) };
    });
    // Columns the table has and the contract dropped stay: older rows still hold them.
    const before = path ? existing.get(path)?.type : table;
    if (before && typeof before !== 'string' && before.type === 'struct') {
      const names = new Set(fields.map((f) => f.name));
      for (const f of before.fields) if (!names.has(f.name)) built.push(f);
    }
    return { type: 'struct', fields: built };
  };
  const schema = struct(draft.fields, '');
  return { schema, evolves, lastColumnId: next, ids };
}

function typeName(type: IcebergType): string {
  return typeof type === 'string' ? type : `a ${type.type}`;
}
