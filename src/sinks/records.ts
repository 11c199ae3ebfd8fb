/**
 * What the sink makes of one Kafka record: the folder it belongs in, its writer schema and the
 * row to write (the decoded Avro record and, beside it, its lineage columns). A record the sink cannot decode
 * is not dropped and does not stop the sink: it becomes a dead-letter row in quarantine, with the
 * same error codes the topology uses and the original bytes.
 */
import type { KafkaMessage } from 'kafkajs';
import { type DeadLetterContract, deadLetterRecord } from '../contracts/dead-letter.js';
import type { RecordErrorEntry } from '../contracts/errors.js';
import { FRAME_HEADER_BYTES, framedSchemaId } from '../contracts/framing.js';
import { dayOf, HEADER, headerString, readLineage, receivedAt } from '../contracts/lineage.js';
import { sampledTraceparent } from '../observability/tracing.js';
import type { WriterSchemas } from '../schema/registry.js';
import type { LayerKind } from './layout.js';
import { lineageColumns } from './lineage-columns.js';

export interface SinkRecord {
  /** The layer the record belongs to, and its source and entity (raw records). */
  kind: LayerKind;
  source: string | undefined;
  entity: string | undefined;
  /** Where its file goes (a folder, or a table's partition), and what holds offsets there (the folder, or the table). */
  folder: string;
  target: string;
  schemaId: number;
  schema: Record<string, unknown>;
  value: Record<string, unknown>;
  lineage: Record<string, unknown>;
  receivedAt: number;
  /** Input size, for rotation by bytes. */
  bytes: number;
  /** The trace the record arrived in, while tracing is on and that trace is sampled: its landing gets a span there. */
  trace?: string | undefined;
}

/** Where a record goes in the layer: its file's folder and the target that holds offsets, from what the record is. */
export type Placement = (at: {
  kind: LayerKind;
  source: string | undefined;
  date: string;
  entity: string | undefined;
  value: Record<string, unknown>;
  lineage: Record<string, unknown>;
}) => {
  folder: string;
  target: string;
};

export interface TopicRole {
  kind: LayerKind;
  /** Raw topics name their source; near-duplicate and dead-letter records carry theirs. */
  source: string | undefined;
}

/** Schema ids of a batch's framed values, to fetch before reading it. */
export function schemaIdsOf(messages: KafkaMessage[]): Set<number> {
  const ids = new Set<number>();
  for (const m of messages) {
    const id = framedSchemaId(m.value);
    if (id !== undefined) ids.add(id);
  }
  return ids;
}

/**
 * `storable` says why a writer schema cannot become a Parquet file (a union the layer does not
 * support, a field named like a lineage column), or nothing when it can.
 */
export function readSinkRecord(
  role: TopicRole,
  topic: string,
  partition: number,
  message: KafkaMessage,
  schemas: WriterSchemas,
  deadLetter: DeadLetterContract,
  storable: (schemaId: number, schema: Record<string, unknown>) => string | undefined,
  place: Placement,
): SinkRecord {
  const received = receivedAt(message);
  const date = dayOf(received);
  const lineage = lineageColumns(message, topic, partition);
  const bytes = (message.value?.length ?? 0) + (message.key?.length ?? 0);
  let decoded = decode(message.value, schemas);
  if (!('error' in decoded)) {
    const problem = storable(decoded.schemaId, schemas.schema(decoded.schemaId)!);
    if (problem) decoded = { error: { code: 'decode.incompatible_schema', field: null, message: problem } };
  }
  if ('error' in decoded) return quarantineRecord(role, topic, partition, message, deadLetter, decoded.error, place);
  const { value, schemaId } = decoded;
  const source = role.kind === 'quarantine' ? String(value.source) : role.source;
  const entity = role.kind === 'raw' ? (headerString(message.headers, HEADER.entity) ?? String(schemas.schema(schemaId)!.name).split('.').pop()) : undefined;
  const kind = role.kind;
  return {
    kind,
    source,
    entity,
    ...place({ kind, source, date, entity, value, lineage }),
    schemaId,
    schema: schemas.schema(schemaId)!,
    value,
    lineage,
    receivedAt: received,
    bytes,
    trace: sampledTraceparent(message.headers),
  };
}

/** The message as a dead-letter row of the quarantine layer, with the error that kept it out of its own layer. */
export function quarantineRecord(
  role: TopicRole,
  topic: string,
  partition: number,
  message: KafkaMessage,
  deadLetter: DeadLetterContract,
  error: RecordErrorEntry,
  place: Placement,
): SinkRecord {
  const received = receivedAt(message);
  const source = role.source ?? headerString(message.headers, HEADER.source);
  const record = deadLetterRecord({
    errors: [error],
    stage: 'sink',
    source: source ?? 'unknown',
    entity: headerString(message.headers, HEADER.entity) ?? null,
    original: { key: message.key, value: message.value, headers: message.headers },
    origin: { topic, partition, offset: Number(message.offset) },
    lineage: readLineage(message, topic, partition, source ?? 'unknown'),
    failedAt: received,
  });
  // Through Avro and back, so the row has the types a decoded dead letter has (bytes as Buffers, defaults filled).
  const value = deadLetter.type.fromBuffer(deadLetter.type.toBuffer(record)) as Record<string, unknown>;
  const bytes = (message.value?.length ?? 0) + (message.key?.length ?? 0);
  const lineage = lineageColumns(message, topic, partition);
  return {
    kind: 'quarantine',
    source,
    entity: undefined,
    ...place({ kind: 'quarantine', source, date: dayOf(received), entity: undefined, value, lineage }),
    schemaId: deadLetter.id,
    schema: deadLetter.schema,
    value,
    lineage,
    receivedAt: received,
    bytes,
    trace: sampledTraceparent(message.headers),
  };
}

function decode(value: Buffer | null, schemas: WriterSchemas): { value: Record<string, unknown>; schemaId: number } | { error: RecordErrorEntry } {
  const schemaId = framedSchemaId(value);
  if (value === null || schemaId === undefined) return { error: { code: 'decode.malformed', field: null, message: 'not Confluent-framed Avro' } };
  const type = schemas.get(schemaId);
  if (!type) return { error: { code: 'decode.unknown_schema_id', field: null, message: `schema id ${schemaId} is not in the registry` } };
  try {
    return { value: type.fromBuffer(value.subarray(FRAME_HEADER_BYTES)) as Record<string, unknown>, schemaId };
  } catch {
    return { error: { code: 'decode.truncated', field: null, message: 'the Avro body does not match its writer schema' } };
  }
}
