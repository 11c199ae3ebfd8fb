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
  /** The pseudonym of the person a record is about (docs/privacy.md): how access finds every copy of their records. */
  subject: 'c360.subject',
  /** The W3C trace context of the span that last handled the record (observability/tracing.ts), when tracing is on. */
  traceparent: 'traceparent',
} as const;

/** version-traceid-parentid-flags in lower-case hex; all-zero ids are invalid (W3C Trace Context, level 1). */
export const TRACEPARENT = /^00-(?!0{32})([0-9a-f]{32})-(?!0{16})([0-9a-f]{16})-([0-9a-f]{2})$/;

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
  /** The traceparent the record arrived with (or its producer's span): the parent of the next hop's span. */
  trace?: string;
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

/** The instants a received_at may hold: the platform's own era, and no more than a clock's skew ahead. */
const RECEIVED_AT_FLOOR = Date.UTC(2000, 0, 1);
const RECEIVED_AT_SKEW_MS = 86_400_000;
const MAX_INGEST_ID_CHARS = 128;
const MAX_ORIGIN_BYTES = 4096;

function receivedAtInBounds(ms: number): boolean {
  return Number.isFinite(ms) && ms >= RECEIVED_AT_FLOOR && ms <= Date.now() + RECEIVED_AT_SKEW_MS;
}

/** When a record entered the platform: its lineage header, else its Kafka timestamp; now, when neither is a sane instant. */
export function receivedAt(message: KafkaMessage): number {
  const header = headerString(message.headers, HEADER.receivedAt);
  const received = header === undefined ? Number.NaN : Date.parse(header);
  if (receivedAtInBounds(received)) return received;
  const timestamp = Number(message.timestamp);
  return receivedAtInBounds(timestamp) ? timestamp : Date.now();
}

function isJsonObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

/**
 * A record's lineage, read once, and what is wrong with its headers (undefined when they are what
 * the contract says, docs/contracts.md). Where a header breaks the contract, the lineage holds the
 * value derived from the record's position instead, and the record is dead-lettered
 * (`lineage.invalid`) with its own headers kept as they came.
 */
export function checkLineage(message: KafkaMessage, topic: string, partition: number, source: string): { lineage: Lineage; problem: string | undefined } {
  const h = message.headers;
  const ingestId = headerString(h, HEADER.ingestId);
  const kind = headerString(h, HEADER.sourceKind);
  const origin = headerString(h, HEADER.origin);
  const received = headerString(h, HEADER.receivedAt);
  // A malformed trace context is dropped, as W3C Trace Context asks: it never fails a record.
  const traceparent = headerString(h, HEADER.traceparent);
  const ingestIdOk = ingestId === undefined || (ingestId.trim() !== '' && ingestId.length <= MAX_INGEST_ID_CHARS);
  const kindOk = kind === undefined || (SOURCE_KINDS as readonly string[]).includes(kind);
  const originOk = origin === undefined || (Buffer.byteLength(origin) <= MAX_ORIGIN_BYTES && isJsonObject(origin));
  let problem: string | undefined;
  if (!ingestIdOk) problem = `${HEADER.ingestId} must be 1 to ${MAX_INGEST_ID_CHARS} characters`;
  else if (!kindOk) problem = `${HEADER.sourceKind} must be one of ${SOURCE_KINDS.join(', ')}`;
  else if (!originOk) problem = `${HEADER.origin} must be a JSON object of at most ${MAX_ORIGIN_BYTES} bytes`;
  else if (received !== undefined && !receivedAtInBounds(Date.parse(received)))
    problem = `${HEADER.receivedAt} must be an ISO 8601 instant from 2000 to a day from now`;
  else if (received === undefined && !receivedAtInBounds(Number(message.timestamp)))
    problem = 'the Kafka timestamp (there is no received_at header) must be from 2000 to a day from now';
  return {
    lineage: {
      ingestId: ingestId !== undefined && ingestIdOk ? ingestId.trim() : ingestIdFrom(`${topic}/${partition}/${message.offset}/${message.timestamp}`),
      source,
      sourceKind: kind !== undefined && kindOk ? (kind as SourceKind) : 'stream',
      receivedAt: receivedAt(message),
      origin: origin !== undefined && originOk ? origin : JSON.stringify({ topic, partition, offset: Number(message.offset) }),
      ...(traceparent !== undefined && TRACEPARENT.test(traceparent) ? { trace: traceparent } : {}),
    },
    problem,
  };
}

/** A record's lineage (checkLineage, when what is wrong with it does not matter: a record already dead-lettered). */
export function readLineage(message: KafkaMessage, topic: string, partition: number, source: string): Lineage {
  return checkLineage(message, topic, partition, source).lineage;
}

let lastReceivedAt = Number.NaN;
let lastReceivedAtIso = '';

export function lineageHeaders(lineage: Lineage): IHeaders {
  // A batch's records share their receipt instant: its text is made once.
  if (lineage.receivedAt !== lastReceivedAt) {
    lastReceivedAtIso = new Date(lineage.receivedAt).toISOString();
    lastReceivedAt = lineage.receivedAt;
  }
  const headers: IHeaders = {
    [HEADER.ingestId]: lineage.ingestId,
    [HEADER.source]: lineage.source,
    [HEADER.sourceKind]: lineage.sourceKind,
    [HEADER.receivedAt]: lastReceivedAtIso,
    [HEADER.origin]: lineage.origin,
  };
  if (lineage.trace) headers[HEADER.traceparent] = lineage.trace;
  return headers;
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
