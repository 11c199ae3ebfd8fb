/**
 * The dead-letter record (avro/DeadLetter.avsc), built in one place for every writer: the
 * topology's router, file ingest (rows that cannot be mapped) and the sink (raw records it cannot
 * store). Each keeps every error, the original key, value and headers as bytes, where the record
 * was, and its lineage.
 */
import { hash } from 'node:crypto';
import type avro from 'avsc';
import type { IHeaders, Message } from 'kafkajs';
import type { RecordErrorEntry } from './errors.js';
import { frame } from './framing.js';
import { HEADER, type Lineage, lineageHeaders } from './lineage.js';
import { PROCESSOR_VERSION } from './project.js';

/** The dead-letter schema as a writer needs it: its registered id, the schema and its avsc type, and how large a dead letter may be. */
export interface DeadLetterContract {
  id: number;
  schema: Record<string, unknown>;
  type: avro.Type;
  /** The dead-letter topic's max.message.bytes: a dead letter that would be larger moves its original value out of line. */
  maxMessageBytes: number;
}

/** An original value kept beside its dead letter, content-addressed in the raw layer's storage, written before the dead letter is sent. */
export interface OutOfLineValue {
  key: string;
  sha256: string;
  bytes: Buffer;
}

/** What Kafka adds to a record beyond its key, value and headers (lengths, offsets, attributes), with room to spare. */
const RECORD_OVERHEAD_BYTES = 512;

export interface DeadLetter {
  errors: RecordErrorEntry[];
  /** The stage that rejected it: decode, size, quality, extract, sink… */
  stage: string;
  source: string;
  entity: string | null;
  /** The record as it arrived; a file row is its cells as JSON, with no key or headers. */
  original: { key: Buffer | string | null; value: Buffer | string | null; headers: IHeaders | undefined };
  /** Where it arrived: a topic position, or `file:<name>`, partition 0 and the row number. */
  origin: { topic: string; partition: number; offset: number };
  lineage: Lineage;
  /** The pseudonym of the person its original value is sealed for, when it is. */
  subject?: string | undefined;
  /** The event it is (observability/record-profile.ts), when it decoded. */
  event?: string | undefined;
  failedAt: number;
}

const bytes = (v: Buffer | string | null): Buffer | null => (v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v));

/** A message's headers as the dead-letter record keeps them: each name's first value, as bytes. */
function originalHeaders(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = Buffer.isBuffer(first) ? first : Buffer.from(first);
  }
  return out;
}

/** The Avro record of a dead letter (its original value inline). */
export function deadLetterRecord(d: DeadLetter): Record<string, unknown> {
  return {
    errors: d.errors,
    stage: d.stage,
    source: d.source,
    entity: d.entity,
    original_key: bytes(d.original.key),
    original_value: bytes(d.original.value),
    original_value_ref: null,
    original_headers: originalHeaders(d.original.headers),
    origin_topic: d.origin.topic,
    origin_partition: d.origin.partition,
    origin_offset: d.origin.offset,
    lineage: {
      ingest_id: d.lineage.ingestId,
      source: d.lineage.source,
      source_kind: d.lineage.sourceKind,
      received_at: d.lineage.receivedAt,
      origin: d.lineage.origin,
    },
    failed_at: d.failedAt,
    processor_version: PROCESSOR_VERSION,
    event: d.event ?? null,
  };
}

/** A message's size on the wire, as a topic's max.message.bytes counts it, with Kafka's own bytes to spare. */
export function messageBytes(m: Message): number {
  let n = (m.key?.length ?? 0) + (m.value?.length ?? 0) + RECORD_OVERHEAD_BYTES;
  for (const [k, v] of Object.entries(m.headers ?? {})) n += k.length + (v === undefined ? 0 : Buffer.byteLength(Array.isArray(v) ? v.join('') : v));
  return n;
}

/**
 * The dead letter as a message on the dead-letter topic: framed Avro, the original key, lineage
 * headers, and the headers Kafka Connect's dead-letter queue writes, so Connect tooling can read ours.
 * A dead letter that would be over the topic's max.message.bytes keeps its errors and lineage and
 * refers to its original value by sha256 instead (`outOfLine`, for the caller to store first):
 * nothing is lost, and the dead letter always fits.
 */
export function deadLetterMessage(
  contract: DeadLetterContract,
  d: DeadLetter,
  connectorName: string,
): { message: Message; outOfLine: OutOfLineValue | undefined } {
  const headers: IHeaders = {
    ...lineageHeaders(d.lineage),
    '__connect.errors.topic': d.origin.topic,
    '__connect.errors.partition': String(d.origin.partition),
    '__connect.errors.offset': String(d.origin.offset),
    '__connect.errors.connector.name': connectorName,
    '__connect.errors.stage': d.stage,
    '__connect.errors.exception.class.name': d.errors[0]?.code ?? 'unknown',
    '__connect.errors.exception.message': d.errors.map((x) => `${x.code}${x.field ? ` at ${x.field}` : ''}: ${x.message}`).join('; '),
  };
  if (d.entity !== null) headers[HEADER.entity] = d.entity;
  if (d.subject) headers[HEADER.subject] = d.subject;
  const record = deadLetterRecord(d);
  const message: Message = { key: d.original.key, value: frame(contract.id, contract.type.toBuffer(record)), headers };
  const original = record.original_value as Buffer | null;
  if (original === null || messageBytes(message) <= contract.maxMessageBytes) return { message, outOfLine: undefined };
  const sha256 = hash('sha256', original, 'hex');
  const key = `quarantine/originals/sha256=${sha256}`;
  const ref = { ...record, original_value: null, original_value_ref: { key, sha256, size: original.length } };
  return { message: { ...message, value: frame(contract.id, contract.type.toBuffer(ref)) }, outOfLine: { key, sha256, bytes: original } };
}
