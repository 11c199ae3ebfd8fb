/**
 * Iceberg v2 manifests and manifest lists (the spec's "Manifests" and "Manifest Lists"), as Avro
 * container files with the spec's field ids. A manifest written here lists added data files; its
 * entries leave their snapshot id and sequence numbers null, to be inherited from the manifest
 * list, so the same manifest serves every retry of a commit. A manifest list names the new
 * manifests and carries over the parent snapshot's entries unchanged.
 */

import type { Long } from '../contracts/long-json.js';
import type { PartitionSpec, TableSchema } from './table-metadata.js';

/** A data file as a manifest lists it. `partition` holds the spec's values in its field order. */
export interface DataFileEntry {
  path: string;
  partition: Array<number | string | null>;
  recordCount: number;
  fileSizeBytes: number;
}

/** The spec's `manifest_file`, as a manifest list holds it. */
export interface ManifestFileEntry {
  manifest_path: string;
  manifest_length: number;
  partition_spec_id: number;
  content: number;
  sequence_number: number;
  min_sequence_number: number;
  added_snapshot_id: Long;
  added_files_count: number;
  existing_files_count: number;
  deleted_files_count: number;
  added_rows_count: number;
  existing_rows_count: number;
  deleted_rows_count: number;
}

const optional = (type: unknown) => ['null', type];

/** The Avro type of a partition value, by the transform and source type that make it. */
function partitionFieldType(transform: string, sourceType: unknown): unknown {
  if (transform === 'day') return { type: 'int', logicalType: 'date' };
  if (transform === 'identity' && sourceType === 'string') return 'string';
  if (transform === 'identity' && (sourceType === 'int' || sourceType === 'long')) return sourceType;
  throw new Error(`partition transform ${transform} of a ${String(sourceType)} is not written by c360`);
}

function manifestSchema(spec: PartitionSpec, schema: TableSchema): Record<string, unknown> {
  const partitionFields = spec.fields.map((f) => ({
    name: f.name,
    type: optional(partitionFieldType(f.transform, schema.fields.find((c) => c.id === f['source-id'])?.type)),
    default: null,
    'field-id': f['field-id'],
  }));
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      { name: 'snapshot_id', type: optional('long'), default: null, 'field-id': 1 },
      { name: 'sequence_number', type: optional('long'), default: null, 'field-id': 3 },
      { name: 'file_sequence_number', type: optional('long'), default: null, 'field-id': 4 },
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            { name: 'partition', 'field-id': 102, type: { type: 'record', name: 'r102', fields: partitionFields } },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
          ],
        },
      },
    ],
  };
}

export const STATUS = { existing: 0, added: 1, deleted: 2 } as const;
const CONTENT_DATA = 0;

/**
 * A manifest entry to write. Added entries leave snapshot id and sequence numbers to inheritance;
 * existing and deleted ones carry them, as read from the manifest they come from.
 */
export interface ManifestEntryToWrite {
  status: (typeof STATUS)[keyof typeof STATUS];
  snapshotId: Long | null;
  sequenceNumber: number | null;
  fileSequenceNumber: number | null;
  file: DataFileEntry;
}

/** A manifest's records and header metadata. */
export function manifestFile(
  spec: PartitionSpec,
  schema: TableSchema,
  entries: ManifestEntryToWrite[],
): { schema: Record<string, unknown>; records: unknown[]; metadata: Record<string, string> } {
  const records = entries.map((e) => ({
    status: e.status,
    snapshot_id: e.snapshotId,
    sequence_number: e.sequenceNumber,
    file_sequence_number: e.fileSequenceNumber,
    data_file: {
      content: CONTENT_DATA,
      file_path: e.file.path,
      file_format: 'PARQUET',
      partition: Object.fromEntries(spec.fields.map((p, i) => [p.name, e.file.partition[i] ?? null])),
      record_count: e.file.recordCount,
      file_size_in_bytes: e.file.fileSizeBytes,
    },
  }));
  return {
    schema: manifestSchema(spec, schema),
    records,
    metadata: {
      schema: JSON.stringify(schema),
      'schema-id': String(schema['schema-id']),
      'partition-spec': JSON.stringify(spec.fields),
      'partition-spec-id': String(spec['spec-id']),
      'format-version': '2',
      content: 'data',
    },
  };
}

/** Entries for data files a snapshot adds. */
export const addedEntries = (files: DataFileEntry[]): ManifestEntryToWrite[] =>
  files.map((file) => ({ status: STATUS.added, snapshotId: null, sequenceNumber: null, fileSequenceNumber: null, file }));

export const MANIFEST_LIST_SCHEMA: Record<string, unknown> = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
  ],
};

/** A manifest list entry read from any writer's file, reduced to the fields this list schema keeps. */
export function asManifestFileEntry(r: Record<string, unknown>): ManifestFileEntry {
  const n = (k: string) => Number(r[k] ?? 0);
  return {
    manifest_path: String(r.manifest_path),
    manifest_length: n('manifest_length'),
    partition_spec_id: n('partition_spec_id'),
    content: n('content'),
    sequence_number: n('sequence_number'),
    min_sequence_number: n('min_sequence_number'),
    added_snapshot_id: (r.added_snapshot_id as Long | undefined) ?? 0,
    added_files_count: n('added_files_count'),
    existing_files_count: n('existing_files_count'),
    deleted_files_count: n('deleted_files_count'),
    added_rows_count: n('added_rows_count'),
    existing_rows_count: n('existing_rows_count'),
    deleted_rows_count: n('deleted_rows_count'),
  };
}

export function manifestListMetadata(snapshotId: Long, parentId: Long | undefined, sequenceNumber: number): Record<string, string> {
  return {
    'snapshot-id': String(snapshotId),
    ...(parentId !== undefined ? { 'parent-snapshot-id': String(parentId) } : {}),
    'sequence-number': String(sequenceNumber),
    'format-version': '2',
  };
}
