/**
 * The one walk over an Avro record schema's fields (as JSON), and what it tells about a field's
 * type: personal-data marks (personal.ts) and the dataset checks' field profile read it.
 */

export type Field = { name: string; type: unknown; 'c360.pii'?: string };

/** The record (or array of records) a field type holds, when it holds one. */
function nestedFields(type: unknown): { fields: Field[]; many: boolean } | undefined {
  const branches = Array.isArray(type) ? type : [type];
  for (const b of branches) {
    if (b && typeof b === 'object') {
      const t = b as { type?: string; fields?: Field[]; items?: unknown };
      if (t.type === 'record' && t.fields) return { fields: t.fields, many: false };
      if (t.type === 'array') {
        const inner = nestedFields(t.items);
        if (inner) return { fields: inner.fields, many: true };
      }
    }
  }
  return undefined;
}

/**
 * The one walk over a schema's fields, depth first: each field with its path from the record
 * (`address.line1`, `line_items[].sku`) and the records it holds; `visit` returning false keeps the
 * walk out of them.
 */
export function walkFields(
  fields: Field[],
  visit: (field: Field, path: string, nested: { fields: Field[]; many: boolean } | undefined) => boolean | undefined,
  prefix = '',
): void {
  for (const f of fields) {
    const path = `${prefix}${f.name}`;
    const nested = nestedFields(f.type);
    if (visit(f, path, nested) !== false && nested) walkFields(nested.fields, visit, `${path}${nested.many ? '[]' : ''}.`);
  }
}

export const fieldsOfSchema = (schema: Record<string, unknown>): Field[] => (schema.fields as Field[] | undefined) ?? [];

export function holdsMap(type: unknown): boolean {
  return (Array.isArray(type) ? type : [type]).some((b) => b !== null && typeof b === 'object' && (b as { type?: string }).type === 'map');
}

/** Whether a field's type lets it be null (a union with null). */
export function holdsNull(type: unknown): boolean {
  return Array.isArray(type) && type.includes('null');
}
