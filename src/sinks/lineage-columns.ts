/**
 * The lineage every raw-layer row keeps beside its own fields: where it came from (ingest id,
 * source, kind, received time, origin), what the checks said (quality flags, near-duplicate flag)
 * and where it was in Kafka. Declared as Avro fields so they map to Parquet like the entity does.
 */
import type { KafkaMessage } from 'kafkajs';
import { HEADER, headerString, receivedAt } from '../contracts/lineage.js';

const nullable = (type: unknown) => ['null', type];

export const LINEAGE_FIELDS: ReadonlyArray<Record<string, unknown>> = [
  { name: '_key', type: nullable('string'), doc: 'Kafka key (the natural id).' },
  { name: '_ingest_id', type: nullable('string') },
  { name: '_source', type: nullable('string') },
  { name: '_source_kind', type: nullable('string') },
  { name: '_received_at', type: { type: 'long', logicalType: 'timestamp-millis' }, doc: 'c360.received_at, or the Kafka timestamp when absent.' },
  { name: '_origin', type: nullable('string'), doc: 'JSON: file + row, request id, connector + cursor, or topic/partition/offset.' },
  { name: '_quality_flags', type: { type: 'array', items: 'string' } },
  { name: '_near_duplicate', type: 'boolean' },
  { name: '_topic', type: 'string' },
  { name: '_partition', type: 'int' },
  { name: '_offset', type: 'long' },
  {
    name: '_subject',
    type: nullable('string'),
    doc: "Pseudonym of the person the record is about (c360.subject): what `c360 privacy export` finds a person's rows by.",
  },
];

export function lineageColumns(message: KafkaMessage, topic: string, partition: number): Record<string, unknown> {
  const h = message.headers;
  const flags = headerString(h, HEADER.qualityFlags);
  return {
    _key: message.key ? message.key.toString() : null,
    _ingest_id: headerString(h, HEADER.ingestId) ?? null,
    _source: headerString(h, HEADER.source) ?? null,
    _source_kind: headerString(h, HEADER.sourceKind) ?? null,
    _received_at: receivedAt(message),
    _origin: headerString(h, HEADER.origin) ?? null,
    _quality_flags: flags ? flags.split(',') : [],
    _near_duplicate: headerString(h, HEADER.nearDuplicate) === 'true',
    _topic: topic,
    _partition: partition,
    _offset: Number(message.offset),
    _subject: headerString(h, HEADER.subject) ?? null,
  };
}
