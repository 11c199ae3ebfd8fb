/**
 * Personal data, as the contracts declare it: each Avro field that holds personal data carries
 * `"c360.pii": "<kind>"`; a field whose name looks personal but is not says `"c360.pii": "none"`.
 * Masking (quarantine show), log redaction and the privacy tooling read this, not a list of names.
 */
import { listSchemas, loadSchema } from './avro.js';
import { type Field, fieldsOfSchema, holdsMap, walkFields } from './schema-fields.js';

export const PII_KINDS = ['email', 'phone', 'name', 'birth_date', 'address', 'device', 'online_id', 'location', 'free_text'] as const;
type PiiKind = (typeof PII_KINDS)[number];

/** A personal field: its path from the record (`address.line1`, `line_items[].x`) and its kind. */
export interface PersonalField {
  path: string;
  kind: PiiKind;
}

/** Every field of a schema, depth first, with its dotted path, its mark (if any) and whether it holds records (whose own fields are marked). */
export function fieldsOf(schema: Record<string, unknown>): { path: string; name: string; mark: string | undefined; record: boolean }[] {
  const out: { path: string; name: string; mark: string | undefined; record: boolean }[] = [];
  walkFields(fieldsOfSchema(schema), (f, path, nested) => {
    out.push({ path, name: f.name, mark: f['c360.pii'], record: nested !== undefined });
    return true;
  });
  return out;
}

/** Names of string fields that hold whatever a sender puts in them: links, notes, payloads. */
const FREE_FORM_NAME =
  /(^|_)(url|uri|link|referr?er|properties|context|traits|attributes|metadata|payload|notes?|comments?|description|message|body|text|query|search)($|_)/;

/**
 * The fields of an entity where personal data can appear unannounced (a map, or a string named
 * like a link, a note or a payload) that say nothing about it: each must be decided in its
 * contract — `"c360.pii": "free_text"` (sealed as a whole under the person's key) or `"none"`.
 */
export function undecidedFreeForm(schema: Record<string, unknown>): string[] {
  const maps = new Set<string>();
  walkFields(fieldsOfSchema(schema), (f, path) => {
    if (holdsMap(f.type)) maps.add(path);
    return f['c360.pii'] === undefined;
  });
  return fieldsOf(schema)
    .filter((f) => f.mark === undefined && !f.record && (maps.has(f.path) || FREE_FORM_NAME.test(f.name)))
    .map((f) => f.path);
}

/** Whether a field's type is a plain string (or a nullable one): a place a sender can write anything. */
function holdsText(type: unknown): boolean {
  return (Array.isArray(type) ? type : [type]).some(
    (b) =>
      b === 'string' ||
      (b !== null && typeof b === 'object' && (b as { type?: string; logicalType?: string }).type === 'string' && !(b as { logicalType?: string }).logicalType),
  );
}

/** The paths of the string fields no mark covers: where an email can still turn up (an event named after its sender, say). */
export function unmarkedTextFields(schema: Record<string, unknown>): string[] {
  const out: string[] = [];
  walkFields(fieldsOfSchema(schema), (f, path, nested) => {
    if (f['c360.pii'] !== undefined && f['c360.pii'] !== 'none') return false;
    if (!nested && holdsText(f.type)) out.push(path);
    return true;
  });
  return out;
}

/** The personal fields of an entity schema, by their mark. */
export function personalFields(schema: Record<string, unknown>): PersonalField[] {
  return fieldsOf(schema)
    .filter((f) => f.mark !== undefined && f.mark !== 'none')
    .map((f) => ({ path: f.path, kind: f.mark as PiiKind }));
}

let names: ReadonlySet<string> | undefined;

/** The names of every field marked personal in any contract (avro/), for redaction by name where no schema is at hand. */
export function personalFieldNames(): ReadonlySet<string> {
  names ??= new Set(listSchemas().flatMap((s) => personalFields(loadSchema(s).schema).map((f) => f.path.split('.').pop()!.replace(/\[\]$/, ''))));
  return names;
}

/**
 * The schema personal values are stored under once encrypted: every personal field becomes a
 * string (nullable where it was), marked `"c360.encrypted": true`; everything else is unchanged.
 * Raw topics and the raw layer carry records of this schema.
 */
export function encryptedSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(schema);
  walkFields(fieldsOfSchema(copy), (f) => {
    const mark = f['c360.pii'];
    if (mark === undefined || mark === 'none') return true;
    const withDefault = f as Field & { default?: unknown };
    // A default of the plain type ({} for a map) is no string: such a field becomes nullable, its default null.
    const nullable = (Array.isArray(f.type) && f.type.includes('null')) || (withDefault.default !== undefined && withDefault.default !== null);
    f.type = nullable ? ['null', 'string'] : 'string';
    if (withDefault.default !== undefined) withDefault.default = null;
    (f as Field & { 'c360.encrypted'?: boolean })['c360.encrypted'] = true;
    return false;
  });
  return copy;
}
