/**
 * Parquet DECIMAL columns read exactly. hyparquet turns a DECIMAL into a JavaScript number
 * (unscaled × 10^-scale), which reads 19.99 back as 19.990000000000002 and drops digits past 2^53.
 * The reader gets a copy of the footer in which each DECIMAL column carries no annotation, so its
 * unscaled integer comes back as stored, and each row is then walked by the schema to turn that
 * integer into the exact decimal string c360 uses everywhere else (schema/decimal.ts).
 *
 * The walk follows hyparquet's own assembly of nested columns: LIST and MAP groups of the shapes
 * it recognises become arrays and objects, other groups objects, other repeated fields arrays.
 */
import { type AsyncBuffer, type FileMetaData, type ParquetParsers, parquetReadObjects, parquetSchema, type SchemaElement, type SchemaTree } from 'hyparquet';
import { formatUnscaled, fromTwosComplement } from './decimal.js';

/** What a read needs to keep decimals exact: the footer to read with, parsers, and the fix for each row. */
interface ExactDecimalRead {
  metadata: FileMetaData;
  parsers: Partial<ParquetParsers>;
  fix(row: Record<string, unknown>): Record<string, unknown>;
}

type Fix = (value: unknown) => unknown;

const isDecimal = (e: SchemaElement): boolean => e.converted_type === 'DECIMAL' || e.logical_type?.type === 'DECIMAL';

const scaleOf = (e: SchemaElement): number => e.scale ?? (e.logical_type?.type === 'DECIMAL' ? e.logical_type.scale : 0) ?? 0;

const isUuid = (e: SchemaElement): boolean => e.logical_type?.type === 'UUID';

/**
 * A BYTE_ARRAY left unannotated would be decoded as UTF-8 text, so such a decimal is marked UUID
 * instead, whose parser here hands back the bytes; true UUID columns get their text in the walk.
 */
const RAW_BYTES: Partial<ParquetParsers> = { uuidFromBytes: (bytes: Uint8Array) => bytes };

function unscaled(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(value);
  if (value instanceof Uint8Array) return fromTwosComplement(value);
  throw new Error(`a Parquet DECIMAL held ${typeof value}`);
}

function uuidText(value: unknown): unknown {
  if (!(value instanceof Uint8Array)) return value;
  const hex = Buffer.from(value).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const isListLike = (node: SchemaTree): boolean =>
  node.element.converted_type === 'LIST' &&
  node.children.length === 1 &&
  node.children[0]!.children.length <= 1 &&
  node.children[0]!.element.repetition_type === 'REPEATED';

const isMapLike = (node: SchemaTree): boolean =>
  node.element.converted_type === 'MAP' &&
  node.children.length === 1 &&
  node.children[0]!.children.length === 2 &&
  node.children[0]!.element.repetition_type === 'REPEATED';

const eachItem =
  (fix: Fix): Fix =>
  (v) =>
    Array.isArray(v) ? v.map(fix) : v;

/** How one node's assembled value is fixed, or undefined when nothing under it needs it. */
function fixOf(node: SchemaTree, withUuids: boolean): Fix | undefined {
  const own = nodeFix(node, withUuids);
  // A repeated field outside a LIST group comes back as an array of its values.
  return own && node.element.repetition_type === 'REPEATED' ? eachItem(own) : own;
}

function nodeFix(node: SchemaTree, withUuids: boolean): Fix | undefined {
  const e = node.element;
  if (isDecimal(e)) {
    const scale = scaleOf(e);
    return (v) => (v === null || v === undefined ? v : formatUnscaled(unscaled(v), scale));
  }
  if (withUuids && isUuid(e)) return uuidText;
  if (node.children.length === 0) return undefined;
  if (isListLike(node)) {
    const list = node.children[0]!;
    const element = list.children[0] ?? list;
    const inner = element === list ? nodeFix(list, withUuids) : fixOf(element, withUuids);
    return inner && eachItem(inner);
  }
  if (isMapLike(node)) {
    const value = node.children[0]!.children.find((c) => c.element.name === 'value');
    const inner = value && fixOf(value, withUuids);
    if (!inner) return undefined;
    return (v) => {
      if (v && typeof v === 'object') for (const k of Object.keys(v)) (v as Record<string, unknown>)[k] = inner((v as Record<string, unknown>)[k]);
      return v;
    };
  }
  const fixes = node.children.flatMap((c) => {
    const f = fixOf(c, withUuids);
    return f ? [[c.element.name, f] as const] : [];
  });
  if (fixes.length === 0) return undefined;
  return (v) => {
    if (v && typeof v === 'object') for (const [name, f] of fixes) (v as Record<string, unknown>)[name] = f((v as Record<string, unknown>)[name]);
    return v;
  };
}

/** How to read a file's DECIMAL columns exactly; undefined when it has none. */
function exactDecimals(metadata: FileMetaData): ExactDecimalRead | undefined {
  if (!metadata.schema.some(isDecimal)) return undefined;
  const byteArrays = metadata.schema.some((e) => isDecimal(e) && e.type === 'BYTE_ARRAY');
  const schema = metadata.schema.map((e): SchemaElement => {
    if (!isDecimal(e)) return e;
    const { converted_type: _c, logical_type: _l, ...bare } = e;
    return e.type === 'BYTE_ARRAY' ? { ...bare, logical_type: { type: 'UUID' } } : bare;
  });
  const fix = fixOf(parquetSchema(metadata), byteArrays) as (row: Record<string, unknown>) => Record<string, unknown>;
  return { metadata: { ...metadata, schema }, parsers: byteArrays ? RAW_BYTES : {}, fix };
}

/** Rows of a Parquet file (a row range of it, when given), nested columns as objects and lists, decimals as exact strings. */
export async function readParquetRows(o: {
  file: ArrayBuffer | AsyncBuffer;
  metadata: FileMetaData;
  rowStart?: number;
  rowEnd?: number;
  utf8?: boolean;
}): Promise<Record<string, unknown>[]> {
  const decimals = exactDecimals(o.metadata);
  const rows = (await parquetReadObjects({ ...o, metadata: decimals?.metadata ?? o.metadata, ...(decimals && { parsers: decimals.parsers }) })) as Record<
    string,
    unknown
  >[];
  return decimals ? rows.map(decimals.fix) : rows;
}
