/**
 * Routing: every input record ends in exactly one place. Raw records go to `<ns>.raw.<source>`
 * (Confluent-framed Avro, keyed by natural id, lineage in headers); near-duplicate events to
 * `<ns>.near-duplicates`; failures to `<ns>.dead-letter` with typed errors, the original bytes
 * and Kafka Connect-style context headers; exact duplicates are only counted.
 */
import type { IHeaders, Message, TopicMessages } from 'kafkajs';
import type avro from 'avsc';
import type { Envelope } from './envelope.js';
import type { LedgerCounts, LedgerEntry } from './ledger.js';
import { emptyCounts } from './ledger.js';
import { HEADER, lineageHeaders } from './lineage.js';
import type { TopicNames } from './topics.js';

export const PROCESSOR_VERSION = `c360-ingest/${process.env.npm_package_version ?? '0.1.0'}`;

export interface RouterContext {
  topologyName: string;
  topics: TopicNames;
  rawSchemaIds: ReadonlyMap<string, number>;
  deadLetter: { id: number; type: avro.Type };
  nearDuplicate: { id: number; type: avro.Type };
  now(): number;
}

export function frame(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = 0;
  out.writeInt32BE(schemaId, 1);
  body.copy(out, 5);
  return out;
}

/** A message's headers as the dead-letter record keeps them: each name's first value, as bytes. */
export function originalHeaders(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = Buffer.isBuffer(first) ? first : Buffer.from(first);
  }
  return out;
}

export interface Routed {
  topicMessages: TopicMessages[];
  counts: LedgerCounts;
  errors: Record<string, number>;
  ledger: LedgerEntry | undefined;
}

export function route(ctx: RouterContext, batch: Envelope[]): Routed {
  const out = new Map<string, Message[]>();
  const push = (topic: string, m: Message) => {
    let list = out.get(topic);
    if (!list) out.set(topic, (list = []));
    list.push(m);
  };
  const counts = emptyCounts();
  const errors: Record<string, number> = {};

  for (const e of batch) {
    counts.in++;
    for (const f of e.flags) errors[f] = (errors[f] ?? 0) + 1;
    if (e.outcome === 'duplicate') {
      counts.duplicates++;
      continue;
    }
    if (e.outcome === 'dead-letter') {
      counts.dead_letter++;
      for (const x of e.errors) errors[x.code] = (errors[x.code] ?? 0) + 1;
      push(ctx.topics.deadLetter, deadLetterMessage(ctx, e));
      continue;
    }
    e.outcome = 'raw';
    counts.raw++;
    const headers: IHeaders = { ...lineageHeaders(e.lineage), [HEADER.entity]: e.source.entity };
    if (e.flags.length > 0) headers[HEADER.qualityFlags] = e.flags.join(',');
    if (e.nearDuplicates.length > 0) headers[HEADER.nearDuplicate] = 'true';
    if (e.value) {
      e.body ??= e.source.type.toBuffer(e.value);
      push(ctx.topics.raw(e.source.name), { key: e.source.naturalId(e.value), value: frame(ctx.rawSchemaIds.get(e.source.id)!, e.body), headers });
    } else {
      // Passthrough topologies (no stages) copy the input as it is.
      push(ctx.topics.raw(e.source.name), { key: e.message.key, value: e.message.value, headers });
    }
    for (const nd of e.nearDuplicates) {
      counts.near_duplicates++;
      push(ctx.topics.nearDuplicates, {
        key: `${nd.record.source}:${nd.record.natural_id}`,
        value: frame(ctx.nearDuplicate.id, ctx.nearDuplicate.type.toBuffer(nd)),
        headers: { [HEADER.ingestId]: nd.record.ingest_id, [HEADER.source]: nd.source },
      });
    }
  }

  const first = batch[0];
  const last = batch[batch.length - 1];
  const ledger: LedgerEntry | undefined =
    first && last
      ? {
          ...counts,
          source: first.source.name,
          topic: first.topic,
          partition: first.partition,
          first_offset: Number(first.message.offset),
          last_offset: Number(last.message.offset),
          errors,
          committed_at: new Date(ctx.now()).toISOString(),
        }
      : undefined;
  if (ledger) push(ctx.topics.ledger, { key: `${ledger.topic}:${ledger.partition}:${ledger.first_offset}`, value: JSON.stringify(ledger) });
  return { topicMessages: [...out].map(([topic, messages]) => ({ topic, messages })), counts, errors, ledger };
}

function deadLetterMessage(ctx: RouterContext, e: Envelope): Message {
  const now = ctx.now();
  const record = {
    errors: e.errors,
    stage: e.failedStage ?? 'unknown',
    source: e.source.name,
    entity: e.source.entity,
    original_key: e.message.key ?? null,
    original_value: e.message.value ?? null,
    original_headers: originalHeaders(e.message.headers),
    origin_topic: e.topic,
    origin_partition: e.partition,
    origin_offset: Number(e.message.offset),
    lineage: { ingest_id: e.lineage.ingestId, source: e.lineage.source, source_kind: e.lineage.sourceKind, received_at: e.lineage.receivedAt, origin: e.lineage.origin },
    failed_at: now,
    processor_version: PROCESSOR_VERSION,
  };
  const firstError = e.errors[0]!;
  return {
    key: e.message.key,
    value: frame(ctx.deadLetter.id, ctx.deadLetter.type.toBuffer(record)),
    headers: {
      ...lineageHeaders(e.lineage),
      [HEADER.entity]: e.source.entity,
      // The headers Kafka Connect's dead-letter queue writes, so Connect tooling can read ours.
      '__connect.errors.topic': e.topic,
      '__connect.errors.partition': String(e.partition),
      '__connect.errors.offset': e.message.offset,
      '__connect.errors.connector.name': ctx.topologyName,
      '__connect.errors.stage': e.failedStage ?? 'unknown',
      '__connect.errors.exception.class.name': firstError.code,
      '__connect.errors.exception.message': e.errors.map((x) => `${x.code}${x.field ? ` at ${x.field}` : ''}: ${x.message}`).join('; '),
    },
  };
}
