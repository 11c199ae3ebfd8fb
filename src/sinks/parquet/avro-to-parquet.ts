/**
 * An Avro record schema as a Parquet schema, and a converter from avsc-decoded values to what the
 * Parquet writer takes. Nested records stay structs, arrays become 3-level LISTs, maps become
 * MAPs, and logical types keep their meaning (date → DATE, timestamp-millis → TIMESTAMP(MILLIS,
 * UTC), decimal → DECIMAL with the same precision and scale, enum → ENUM). Works from the schema
 * JSON rather than avsc's types because avsc drops the logical types it has no class for.
 */
import type { SchemaElement } from 'hyparquet';
import { SchemaError } from '../../contracts/errors.js';
import { unscaledOf } from '../../schema/decimal.js';

type Json = string | Record<string, unknown> | unknown[];
type Repetition = 'REQUIRED' | 'OPTIONAL';
export type Convert = (value: unknown) => unknown;

/** A field's Parquet elements (depth-first, as Parquet lists them) and its value converter. */
interface Node {
  elements: SchemaElement[];
  convert: Convert;
}

const identity: Convert = (v) => v;
const toBigInt: Convert = (v) => (v === null || v === undefined ? v : BigInt(v as number));

class NamedTypes {
  private readonly byName = new Map<string, Record<string, unknown>>();

  register(schema: Record<string, unknown>, enclosingNamespace: string | undefined): string | undefined {
    const name = String(schema.name);
    const namespace = name.includes('.') ? undefined : ((schema.namespace as string | undefined) ?? enclosingNamespace);
    const full = namespace ? `${namespace}.${name}` : name;
    this.byName.set(full, schema);
    this.byName.set(name.split('.').pop()!, schema);
    return name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : namespace;
  }

  resolve(name: string, namespace: string | undefined): Record<string, unknown> {
    const found = this.byName.get(name) ?? (namespace ? this.byName.get(`${namespace}.${name}`) : undefined);
    if (!found) throw new SchemaError(`Avro schema refers to unknown type "${name}".`);
    return found;
  }
}

const PRIMITIVES: Record<string, { element: Omit<SchemaElement, 'name' | 'repetition_type'>; convert: Convert }> = {
  string: { element: { type: 'BYTE_ARRAY', converted_type: 'UTF8' }, convert: identity },
  bytes: { element: { type: 'BYTE_ARRAY' }, convert: identity },
  boolean: { element: { type: 'BOOLEAN' }, convert: identity },
  int: { element: { type: 'INT32' }, convert: identity },
  long: { element: { type: 'INT64' }, convert: toBigInt },
  float: { element: { type: 'FLOAT' }, convert: identity },
  double: { element: { type: 'DOUBLE' }, convert: identity },
};

/**
 * How a table writes its files (src/iceberg): every column carries its field id (by its path of
 * names, as src/iceberg/schema.ts gives them), and timestamps are microseconds, as Iceberg's
 * timestamptz is. Files of the Parquet layer have neither.
 */
export interface TableColumns {
  ids: ReadonlyMap<string, number>;
}

const MILLIS_TO_MICROS = 1000n;

export class AvroToParquet {
  private readonly named = new NamedTypes();

  constructor(private readonly table?: TableColumns) {}

  /** Top-level fields of a record schema: one node per field, in order. */
  fields(record: Record<string, unknown>): Array<{ name: string; node: Node }> {
    const namespace = this.named.register(record, undefined);
    return (record.fields as Array<{ name: string; type: Json }>).map((f) => ({
      name: f.name,
      node: this.node(f.name, f.type, 'REQUIRED', namespace, f.name),
    }));
  }

  /** A node's first element with its field id, when the file is a table's. */
  private withId(node: Node, path: string): Node {
    const id = this.table?.ids.get(path);
    if (id !== undefined) node.elements[0] = { ...node.elements[0]!, field_id: id };
    return node;
  }

  private node(name: string, schema: Json, repetition: Repetition, namespace: string | undefined, path: string): Node {
    return this.withId(this.untagged(name, schema, repetition, namespace, path), path);
  }

  private untagged(name: string, schema: Json, repetition: Repetition, namespace: string | undefined, path: string): Node {
    if (Array.isArray(schema)) return this.union(name, schema as Json[], namespace, path);
    if (typeof schema === 'string') {
      const primitive = PRIMITIVES[schema];
      if (primitive) return { elements: [{ name, repetition_type: repetition, ...primitive.element }], convert: primitive.convert };
      return this.untagged(name, this.named.resolve(schema, namespace), repetition, namespace, path);
    }
    const type = schema.type as Json;
    switch (schema.logicalType) {
      case 'date':
        return { elements: [{ name, repetition_type: repetition, type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } }], convert: identity };
      case 'timestamp-millis':
        return this.table
          ? {
              elements: [
                {
                  name,
                  repetition_type: repetition,
                  type: 'INT64',
                  converted_type: 'TIMESTAMP_MICROS',
                  logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
                },
              ],
              convert: (v) => (v === null || v === undefined ? v : BigInt(v as number) * MILLIS_TO_MICROS),
            }
          : {
              elements: [
                {
                  name,
                  repetition_type: repetition,
                  type: 'INT64',
                  converted_type: 'TIMESTAMP_MILLIS',
                  logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
                },
              ],
              convert: toBigInt,
            };
      case 'decimal':
        return this.decimal(name, Number(schema.precision ?? 38), Number(schema.scale ?? 0), repetition);
    }
    if (type === 'record') {
      const inner = this.named.register(schema, namespace);
      const children = (schema.fields as Array<{ name: string; type: Json }>).map((f) => ({
        name: f.name,
        node: this.node(f.name, f.type, 'REQUIRED', inner, `${path}.${f.name}`),
      }));
      // A record whose fields all pass through as they are is passed through whole, with no copy.
      const passthrough = children.every((c) => c.node.convert === identity);
      return {
        elements: [{ name, repetition_type: repetition, num_children: children.length }, ...children.flatMap((c) => c.node.elements)],
        convert: passthrough
          ? identity
          : (value) => {
              if (value === null || value === undefined) return value;
              const v = value as Record<string, unknown>;
              const out: Record<string, unknown> = {};
              for (const c of children) out[c.name] = c.node.convert(v[c.name]);
              return out;
            },
      };
    }
    if (type === 'enum') {
      this.named.register(schema, namespace);
      return {
        elements: [{ name, repetition_type: repetition, type: 'BYTE_ARRAY', converted_type: 'ENUM', logical_type: { type: 'ENUM' } }],
        convert: identity,
      };
    }
    if (type === 'fixed') {
      this.named.register(schema, namespace);
      return { elements: [{ name, repetition_type: repetition, type: 'FIXED_LEN_BYTE_ARRAY', type_length: Number(schema.size) }], convert: identity };
    }
    if (type === 'array') {
      const item = this.node('element', schema.items as Json, 'REQUIRED', namespace, `${path}.element`);
      return {
        elements: [
          { name, repetition_type: repetition, converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
          { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
          ...item.elements,
        ],
        convert: item.convert === identity ? identity : (value) => (Array.isArray(value) ? value.map(item.convert) : value),
      };
    }
    if (type === 'map') {
      const values = this.node('value', schema.values as Json, 'REQUIRED', namespace, `${path}.value`);
      return {
        elements: [
          { name, repetition_type: repetition, converted_type: 'MAP', logical_type: { type: 'MAP' }, num_children: 1 },
          { name: 'key_value', repetition_type: 'REPEATED', converted_type: 'MAP_KEY_VALUE', num_children: 2 },
          this.withId(
            { elements: [{ name: 'key', repetition_type: 'REQUIRED', type: 'BYTE_ARRAY', converted_type: 'UTF8' }], convert: identity },
            `${path}.key`,
          ).elements[0]!,
          ...values.elements,
        ],
        convert: (value) => {
          if (value === null || value === undefined) return value;
          return Object.entries(value as Record<string, unknown>).map(([key, v]) => ({ key, value: values.convert(v) }));
        },
      };
    }
    // A primitive written as {"type": "string"} or with a logical type this mapping does not know.
    return this.untagged(name, type, repetition, namespace, path);
  }

  private union(name: string, branches: Json[], namespace: string | undefined, path: string): Node {
    const other = branches.filter((b) => b !== 'null');
    if (other.length !== 1 || branches.length !== 2) {
      throw new SchemaError(`Avro field "${name}" is a union of ${JSON.stringify(branches)}; the raw layer supports only ["null", T] unions.`);
    }
    return this.untagged(name, other[0]!, 'OPTIONAL', namespace, path);
  }

  private decimal(name: string, precision: number, scale: number, repetition: Repetition): Node {
    // INT64 holds up to 18 digits; wider decimals take the fixed bytes Parquet sizes by precision.
    const physical: Pick<SchemaElement, 'type' | 'type_length'> =
      precision <= 18 ? { type: 'INT64' } : { type: 'FIXED_LEN_BYTE_ARRAY', type_length: Math.ceil((precision * Math.log2(10) + 1) / 8) };
    return {
      elements: [
        { name, repetition_type: repetition, ...physical, converted_type: 'DECIMAL', precision, scale, logical_type: { type: 'DECIMAL', precision, scale } },
      ],
      convert: (value) => (value === null || value === undefined ? value : unscaledOf(value, scale, precision)),
    };
  }
}
