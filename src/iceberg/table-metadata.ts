/**
 * The parts of Iceberg's table metadata (format v2, as the REST catalog returns it) that c360 reads
 * and writes: schemas with field ids, partition specs, snapshots with their summaries, and the
 * requirements and updates of a commit. Names follow the spec's JSON.
 */
import type { Long } from '../contracts/long-json.js';

export type IcebergType = string | StructType | ListType | MapType;

export interface NestedField {
  id: number;
  name: string;
  required: boolean;
  type: IcebergType;
  doc?: string;
}

export interface StructType {
  type: 'struct';
  fields: NestedField[];
}

interface ListType {
  type: 'list';
  'element-id': number;
  element: IcebergType;
  'element-required': boolean;
}

interface MapType {
  type: 'map';
  'key-id': number;
  key: IcebergType;
  'value-id': number;
  value: IcebergType;
  'value-required': boolean;
}

export interface TableSchema extends StructType {
  'schema-id': number;
}

export interface PartitionField {
  'source-id': number;
  'field-id': number;
  name: string;
  transform: string;
}

export interface PartitionSpec {
  'spec-id': number;
  fields: PartitionField[];
}

export interface Snapshot {
  'snapshot-id': Long;
  'parent-snapshot-id'?: Long;
  'sequence-number': number;
  'timestamp-ms': number;
  'manifest-list': string;
  summary: { operation: 'append' | 'replace' | 'overwrite' | 'delete'; [key: string]: string };
  'schema-id'?: number;
}

export interface TableMetadata {
  'format-version': number;
  'table-uuid': string;
  location: string;
  'last-sequence-number': number;
  'last-updated-ms': number;
  'last-column-id': number;
  'current-schema-id': number;
  schemas: TableSchema[];
  'default-spec-id': number;
  'partition-specs': PartitionSpec[];
  'last-partition-id': number;
  properties?: Record<string, string>;
  'current-snapshot-id'?: Long | null;
  snapshots?: Snapshot[];
  'snapshot-log'?: Array<{ 'snapshot-id': Long; 'timestamp-ms': number }>;
  refs?: Record<string, { 'snapshot-id': Long; type: 'branch' | 'tag' }>;
}

export type TableRequirement =
  | { type: 'assert-ref-snapshot-id'; ref: string; 'snapshot-id': Long | null }
  | { type: 'assert-current-schema-id'; 'current-schema-id': number }
  | { type: 'assert-last-assigned-field-id'; 'last-assigned-field-id': number };

export type TableUpdate =
  | { action: 'add-snapshot'; snapshot: Snapshot }
  | { action: 'set-snapshot-ref'; 'ref-name': string; type: 'branch' | 'tag'; 'snapshot-id': Long }
  | { action: 'add-schema'; schema: TableSchema; 'last-column-id': number }
  | { action: 'set-current-schema'; 'schema-id': number }
  | { action: 'remove-snapshots'; 'snapshot-ids': Long[] };

export function currentSchema(metadata: TableMetadata): TableSchema {
  const schema = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
  if (!schema) throw new Error(`table metadata has no schema ${metadata['current-schema-id']}`);
  return schema;
}

export function defaultSpec(metadata: TableMetadata): PartitionSpec {
  const spec = metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id']);
  if (!spec) throw new Error(`table metadata has no partition spec ${metadata['default-spec-id']}`);
  return spec;
}

/** The snapshot `main` points at, if the table has one. */
export function mainSnapshot(metadata: TableMetadata): Snapshot | undefined {
  const id = metadata.refs?.main?.['snapshot-id'] ?? metadata['current-snapshot-id'];
  return id === undefined || id === null || id === -1 ? undefined : metadata.snapshots?.find((s) => s['snapshot-id'] === id);
}

/** The snapshot and its ancestors, newest first (a snapshot whose parent was expired ends the walk). */
export function* ancestors(metadata: TableMetadata, from: Snapshot | undefined): Generator<Snapshot> {
  const byId = new Map((metadata.snapshots ?? []).map((s) => [s['snapshot-id'], s]));
  for (let s = from; s; s = s['parent-snapshot-id'] === undefined ? undefined : byId.get(s['parent-snapshot-id'])) yield s;
}
