/**
 * Lineage travels with every record as Kafka headers, from the first stage into the raw layer.
 * A record published straight to an ingest topic has none: it gets lineage here, derived from
 * its topic/partition/offset, so a replay of the same input derives the same ingest id.
 */
import { hash } from 'node:crypto';
import type { IHeaders, KafkaMessage } from 'kafkajs';

export const HEADER = {
  ingestId: 'c360.ingest_id',
  source: 'c360.source',
  sourceKind: 'c360.source_kind',
  receivedAt: 'c360.received_at',
  origin: 'c360.origin',
  entity: 'c360.entity',
  qualityFlags: 'c360.quality_flags',
  nearDuplicate: 'c360.near_duplicate',
} as const;

export const SOURCE_KINDS = ['batch', 'stream', 'api', 'upload'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

export interface Lineage {
  ingestId: string;
  source: string;
  sourceKind: SourceKind;
  /** Epoch milliseconds. */
  receivedAt: number;
  /** JSON: {file,row,sha256} | {request_id} | {connector,cursor} | {topic,partition,offset}. */
  origin: string;
}

export function headerString(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.toString();
}

/** A name-based (version 5 shaped) UUID: the same origin always gets the same ingest id, so a replay keeps it. */
export function ingestIdFrom(origin: string): string {
  const h = hash('sha1', origin, 'hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** When a record entered the platform: its lineage header, else its Kafka timestamp. */
export function receivedAt(message: KafkaMessage): number {
  const received = Date.parse(headerString(message.headers, HEADER.receivedAt) ?? '');
  return Number.isNaN(received) ? Number(message.timestamp) : received;
}

export function readLineage(message: KafkaMessage, topic: string, partition: number, source: string): Lineage {
  const h = message.headers;
  const ingestId = headerString(h, HEADER.ingestId);
  const kind = headerString(h, HEADER.sourceKind);
  return {
    ingestId: ingestId ?? ingestIdFrom(`${topic}/${partition}/${message.offset}/${message.timestamp}`),
    source,
    sourceKind: (SOURCE_KINDS as readonly string[]).includes(kind ?? '') ? (kind as SourceKind) : 'stream',
    receivedAt: receivedAt(message),
    origin: headerString(h, HEADER.origin) ?? JSON.stringify({ topic, partition, offset: Number(message.offset) }),
  };
}

export function lineageHeaders(lineage: Lineage): IHeaders {
  return {
    [HEADER.ingestId]: lineage.ingestId,
    [HEADER.source]: lineage.source,
    [HEADER.sourceKind]: lineage.sourceKind,
    [HEADER.receivedAt]: new Date(lineage.receivedAt).toISOString(),
    [HEADER.origin]: lineage.origin,
  };
}

const DAY_MS = 86_400_000;
let lastDay = Number.NaN;
let lastDate = '';

/**
 * The UTC day (YYYY-MM-DD) of an instant: a record's ingest day is the raw layer's date partition
 * (docs/contracts.md). Consecutive records share a day, so the last answer is kept.
 */
export function dayOf(epochMs: number): string {
  const day = Math.floor(epochMs / DAY_MS);
  if (day !== lastDay) {
    lastDay = day;
    lastDate = new Date(day * DAY_MS).toISOString().slice(0, 10);
  }
  return lastDate;
}
