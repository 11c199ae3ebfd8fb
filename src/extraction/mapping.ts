/**
 * From a file's row (CSV cells as text, or an NDJSON / Parquet object) to a JSON record in the
 * entity's shape. Columns map to fields by name (dotted names reach nested fields:
 * `address.country`), or through a mapping file for other headers. Values are coerced by the
 * field's Avro type: numbers, booleans, dates and timestamps (ISO 8601, epoch milliseconds, or a
 * declared format), JSON for lists, maps and records; an empty cell is null. A value that cannot
 * be coerced makes the row a typed `mapping.*` error naming the field; everything else (required
 * fields, enums, quality) is the topology's to check, as for any other input.
 */
import { z } from 'zod';
import { parseSettings, readJsonFile } from '../config.js';
import { ConfigError, type RecordErrorEntry } from '../contracts/errors.js';
import { parseIsoDate, parseIsoTimestamp } from '../schema/iso-time.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../schema/json-depth.js';

export const mappingFileSchema = z
  .object({
    columns: z
      .record(z.string(), z.string())
      .default({})
      .describe('source column (header or top-level key) → dotted field path; columns not listed map by their own name'),
    formats: z
      .record(z.string(), z.string())
      .default({})
      .describe('field path → date/time format, tokens YYYY MM DD HH mm ss SSS (e.g. "DD/MM/YYYY"); times without a zone are UTC'),
    ignore: z.array(z.string()).default([]).describe('source columns to leave out'),
    delimiter: z.string().min(1).max(4).optional().describe("cell delimiter of CSV-like formats (default: the format's own)"),
  })
  .strict();

export type MappingFile = z.output<typeof mappingFileSchema>;

export function loadMappingFile(file: string | undefined): MappingFile {
  if (!file) return mappingFileSchema.parse({});
  return parseSettings(mappingFileSchema, readJsonFile(file, 'mapping file'), `mapping file ${file}`);
}

/** A mapping file's text (a landing zone's `<source>/.mapping.json`), validated; `where` names it in a refusal. */
export function parseMappingFile(text: string, where: string): MappingFile {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`mapping file ${where} is not readable JSON (${(err as Error).message}).`);
  }
  return parseSettings(mappingFileSchema, input, `mapping file ${where}`);
}

type Avro = string | Avro[] | { [key: string]: unknown };
type Kind = 'string' | 'int' | 'long' | 'float' | 'double' | 'boolean' | 'bytes' | 'date' | 'timestamp' | 'decimal' | 'enum' | 'json';

interface FieldType {
  kind: Kind;
}

/** Every field path of a record schema (nested records included) with the kind its values are coerced to. */
function fieldTypes(record: Record<string, unknown>): Map<string, FieldType> {
  const out = new Map<string, FieldType>();
  const named = new Map<string, Record<string, unknown>>();
  const kindOf = (schema: Avro, path: string): void => {
    if (Array.isArray(schema)) {
      const other = schema.filter((s) => s !== 'null');
      return other.length === 1 ? kindOf(other[0]!, path) : void out.set(path, { kind: 'json' });
    }
    if (typeof schema === 'string') {
      const ref = named.get(schema) ?? named.get(schema.split('.').pop()!);
      if (ref) return kindOf(ref, path);
      const primitive: Record<string, Kind> = {
        string: 'string',
        int: 'int',
        long: 'long',
        float: 'float',
        double: 'double',
        boolean: 'boolean',
        bytes: 'bytes',
      };
      return void out.set(path, { kind: primitive[schema] ?? 'json' });
    }
    if (schema.logicalType === 'date') return void out.set(path, { kind: 'date' });
    if (schema.logicalType === 'timestamp-millis' || schema.logicalType === 'timestamp-micros') return void out.set(path, { kind: 'timestamp' });
    if (schema.logicalType === 'decimal') return void out.set(path, { kind: 'decimal' });
    if (schema.type === 'record') {
      named.set(String(schema.name), schema);
      out.set(path, { kind: 'json' });
      for (const f of schema.fields as Array<{ name: string; type: Avro }>) kindOf(f.type, path ? `${path}.${f.name}` : f.name);
      return;
    }
    if (schema.type === 'enum') {
      named.set(String(schema.name), schema);
      return void out.set(path, { kind: 'enum' });
    }
    if (schema.type === 'array' || schema.type === 'map' || schema.type === 'fixed') return void out.set(path, { kind: 'json' });
    return kindOf(schema.type as Avro, path);
  };
  kindOf(record, '');
  out.delete('');
  return out;
}

/** A declared date/time format as a parser to epoch milliseconds (UTC). */
function compileFormat(format: string): (text: string) => number | undefined {
  const tokens: Array<{ token: string; group: number }> = [];
  let group = 0;
  const source = format.replace(/YYYY|MM|DD|HH|mm|ss|SSS|[.*+?^${}()|[\]\\]/g, (t) => {
    if (/^[A-Za-z]+$/.test(t)) {
      tokens.push({ token: t, group: ++group });
      return t === 'YYYY' ? '(\\d{4})' : t === 'SSS' ? '(\\d{3})' : '(\\d{2})';
    }
    return `\\${t}`;
  });
  const re = new RegExp(`^${source}$`);
  return (text) => {
    const m = re.exec(text.trim());
    if (!m) return undefined;
    const part = (t: string, fallback: number) => {
      const found = tokens.find((x) => x.token === t);
      return found ? Number(m[found.group]) : fallback;
    };
    const [y, mo, d, h, mi, s, ms] = [part('YYYY', 1970), part('MM', 1), part('DD', 1), part('HH', 0), part('mm', 0), part('ss', 0), part('SSS', 0)];
    if (h > 23 || mi > 59 || s > 59) return undefined;
    const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
    const back = new Date(t);
    // Reject dates that roll over (31/02) instead of silently moving them.
    if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
    return t;
  };
}

const TRUE = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'f', 'no', 'n', '0']);

type Coerced = { ok: true; value: unknown } | { ok: false; code: RecordErrorEntry['code']; message: string };

function coerce(kind: Kind, value: unknown, format: ((text: string) => number | undefined) | undefined): Coerced {
  if (value === null || value === undefined) return { ok: true, value: null };
  if (value instanceof Date) value = kind === 'date' ? value.toISOString().slice(0, 10) : value.toISOString();
  if (typeof value === 'bigint') value = Number(value);
  if (typeof value !== 'string') return { ok: true, value };
  const text = value.trim();
  if (text === '') return { ok: true, value: null };
  switch (kind) {
    case 'int':
    case 'long': {
      if (!/^[+-]?\d+$/.test(text)) return { ok: false, code: 'mapping.invalid_number', message: 'not a whole number' };
      const n = Number(text);
      if (!Number.isSafeInteger(n)) return { ok: false, code: 'mapping.invalid_number', message: 'a whole number out of range' };
      return { ok: true, value: n };
    }
    case 'float':
    case 'double': {
      const n = Number(text);
      return Number.isFinite(n) && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)
        ? { ok: true, value: n }
        : { ok: false, code: 'mapping.invalid_number', message: 'not a number' };
    }
    case 'decimal':
      return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text) ? { ok: true, value: text } : { ok: false, code: 'mapping.invalid_number', message: 'not a decimal number' };
    case 'boolean': {
      const lower = text.toLowerCase();
      if (TRUE.has(lower)) return { ok: true, value: true };
      if (FALSE.has(lower)) return { ok: true, value: false };
      return { ok: false, code: 'mapping.invalid_boolean', message: 'not true/false, yes/no or 1/0' };
    }
    case 'date': {
      if (format) {
        const t = format(text);
        return t === undefined
          ? { ok: false, code: 'mapping.invalid_date', message: 'not a date in the declared format' }
          : { ok: true, value: new Date(t).toISOString().slice(0, 10) };
      }
      return parseIsoDate(text) !== undefined ? { ok: true, value: text } : { ok: false, code: 'mapping.invalid_date', message: 'not a YYYY-MM-DD date' };
    }
    case 'timestamp': {
      if (format) {
        const t = format(text);
        return t === undefined
          ? { ok: false, code: 'mapping.invalid_timestamp', message: 'not a timestamp in the declared format' }
          : { ok: true, value: new Date(t).toISOString() };
      }
      if (/^\d{10,13}$/.test(text)) return { ok: true, value: new Date(Number(text.length === 10 ? `${text}000` : text)).toISOString() };
      return parseIsoTimestamp(text) !== undefined
        ? { ok: true, value: text }
        : { ok: false, code: 'mapping.invalid_timestamp', message: 'not an ISO 8601 timestamp or epoch milliseconds' };
    }
    case 'json':
      if (jsonTooDeep(text)) return { ok: false, code: 'decode.too_deep', message: `a cell nested deeper than ${MAX_JSON_DEPTH} levels` };
      try {
        return { ok: true, value: JSON.parse(text) };
      } catch {
        return { ok: false, code: 'mapping.invalid_json', message: 'a list, map or record column must hold JSON' };
      }
    default:
      return { ok: true, value: text };
  }
}

function setPath(target: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let node = target;
  for (let i = 0; i < keys.length - 1; i++) {
    const next = node[keys[i]!];
    node = (next !== null && typeof next === 'object' ? next : (node[keys[i]!] = {})) as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

const MAX_PLANNED_COLUMNS = 4096;

/** What a source column becomes, worked out once per column name rather than once per row. */
interface ColumnPlan {
  field: string;
  keys: string[];
  kind: Kind;
  format: ((text: string) => number | undefined) | undefined;
}

type MappedRow = { ok: true; value: Record<string, unknown> } | { ok: false; error: RecordErrorEntry };

export interface RowMapper {
  map(row: Record<string, unknown>): MappedRow;
  /** Source columns that matched no field (ignored), for the summary. */
  readonly unknownColumns: Set<string>;
}

export function compileMapping(entitySchema: Record<string, unknown>, mapping: MappingFile): RowMapper {
  const types = fieldTypes(entitySchema);
  for (const [column, field] of Object.entries(mapping.columns)) {
    if (!types.has(field)) throw new ConfigError(`mapping column "${column}" maps to ${field}, which ${String(entitySchema.name)} does not have.`);
  }
  const formats = new Map<string, (text: string) => number | undefined>();
  for (const [field, format] of Object.entries(mapping.formats)) {
    const kind = types.get(field)?.kind;
    if (kind !== 'date' && kind !== 'timestamp')
      throw new ConfigError(`mapping format for ${field}: ${String(entitySchema.name)} has no date or timestamp field of that name.`);
    formats.set(field, compileFormat(format));
  }
  const ignore = new Set(mapping.ignore);
  const unknownColumns = new Set<string>();
  // null: a column ignored or naming no field. A file's rows share their columns; NDJSON rows each
  // with keys of their own stop being remembered at the cap, so memory stays bounded.
  const plans = new Map<string, ColumnPlan | null>();
  const planOf = (column: string): ColumnPlan | null => {
    let plan = plans.get(column);
    if (plan === undefined) {
      const field = mapping.columns[column] ?? column;
      const type = ignore.has(column) ? undefined : types.get(field);
      plan = type ? { field, keys: field.split('.'), kind: type.kind, format: formats.get(field) } : null;
      if (!type && !ignore.has(column) && unknownColumns.size < MAX_PLANNED_COLUMNS) unknownColumns.add(column);
      if (plans.size < MAX_PLANNED_COLUMNS) plans.set(column, plan);
    }
    return plan;
  };
  return {
    unknownColumns,
    map(row) {
      const out: Record<string, unknown> = {};
      let known = 0;
      for (const column of Object.keys(row)) {
        const plan = planOf(column);
        if (!plan) continue;
        known++;
        const c = coerce(plan.kind, row[column], plan.format);
        if (!c.ok) return { ok: false, error: { code: c.code, field: plan.field, message: `column "${column}": ${c.message}` } };
        setPath(out, plan.keys, c.value);
      }
      // Not one column is a field: a file without a header row (its first row taken for one), or another entity's file.
      if (known === 0)
        return { ok: false, error: { code: 'mapping.unknown_columns', field: null, message: `no column names a field of ${String(entitySchema.name)}` } };
      return { ok: true, value: out };
    },
  };
}
