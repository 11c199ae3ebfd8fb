/**
 * Routing: every input record ends in exactly one place. Raw records go to `<ns>.raw.<source>`
 * (Confluent-framed Avro, keyed by natural id, lineage in headers); near-duplicate events to
 * `<ns>.near-duplicates`; failures to `<ns>.dead-letter` with typed errors, the original bytes
 * and Kafka Connect-style context headers; exact duplicates are only counted.
 */

import type avro from 'avsc';
import type { IHeaders, Message, TopicMessages } from 'kafkajs';
import { type DeadLetterContract, deadLetterMessage, type OutOfLineValue } from '../contracts/dead-letter.js';
import { safeMessage } from '../contracts/errors.js';
import { frame } from '../contracts/framing.js';
import { emptyCounts, type LedgerCounts, type LedgerEntry, ledgerMessage } from '../contracts/ledger.js';
import { HEADER, lineageHeaders } from '../contracts/lineage.js';
import type { TopicNames } from '../contracts/topic-names.js';
import { type Envelope, reject } from '../stages/envelope.js';

export interface RouterContext {
  topologyName: string;
  topics: TopicNames;
  rawSchemaIds: ReadonlyMap<string, number>;
  deadLetter: DeadLetterContract;
  nearDuplicate: { id: number; type: avro.Type };
  now(): number;
}

export interface Routed {
  topicMessages: TopicMessages[];
  /** Original values of dead letters too large to carry them: stored before the messages are sent. */
  outOfLine: OutOfLineValue[];
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
  const outOfLine: OutOfLineValue[] = [];

  for (const e of batch) {
    counts.in++;
    for (const f of e.flags) errors[f] = (errors[f] ?? 0) + 1;
    if (e.outcome === 'pending' && e.value && !e.body) {
      // A value the Avro type cannot hold is this record's problem, not the batch's: dead-lettered, not thrown.
      try {
        e.body = (e.encrypted ? e.entity.encrypted.type : e.entity.type).toBuffer(e.value);
      } catch (err) {
        reject(e, 'route', [{ code: 'stage.internal_error', field: null, message: safeMessage(err) }]);
      }
    }
    if (e.outcome === 'duplicate') {
      counts.duplicates++;
      continue;
    }
    if (e.outcome === 'suppressed') {
      counts.suppressed++;
      continue;
    }
    if (e.outcome === 'dead-letter') {
      counts.dead_letter++;
      for (const x of e.errors) errors[x.code] = (errors[x.code] ?? 0) + 1;
      const dead = deadLetterMessage(
        ctx.deadLetter,
        {
          errors: e.errors,
          stage: e.failedStage ?? 'unknown',
          source: e.entity.source,
          entity: e.entity.name,
          original: e.sealedOriginal ?? { key: e.message.key, value: e.message.value, headers: e.message.headers },
          origin: { topic: e.topic, partition: e.partition, offset: Number(e.message.offset) },
          lineage: e.lineage,
          subject: e.person?.subject,
          failedAt: ctx.now(),
        },
        ctx.topologyName,
      );
      push(ctx.topics.deadLetter, dead.message);
      if (dead.outOfLine) outOfLine.push(dead.outOfLine);
      continue;
    }
    e.outcome = 'raw';
    counts.raw++;
    const headers: IHeaders = { ...lineageHeaders(e.lineage), [HEADER.entity]: e.entity.name };
    if (e.flags.length > 0) headers[HEADER.qualityFlags] = e.flags.join(',');
    if (e.nearDuplicates.length > 0) headers[HEADER.nearDuplicate] = 'true';
    if (e.person) headers[HEADER.subject] = e.person.subject;
    if (e.value) {
      e.body ??= (e.encrypted ? e.entity.encrypted.type : e.entity.type).toBuffer(e.value);
      push(ctx.topics.raw(e.entity.source), { key: e.entity.naturalId(e.value), value: frame(ctx.rawSchemaIds.get(e.entity.id)!, e.body), headers });
    } else {
      // Passthrough topologies (no stages) copy the input as it is.
      push(ctx.topics.raw(e.entity.source), { key: e.message.key, value: e.message.value, headers });
    }
    for (const nd of e.nearDuplicates) {
      counts.near_duplicates++;
      push(ctx.topics.nearDuplicates, {
        key: `${nd.record.source}:${nd.record.natural_id}`,
        value: frame(ctx.nearDuplicate.id, ctx.nearDuplicate.type.toBuffer(nd)),
        headers: { [HEADER.ingestId]: nd.record.ingest_id, [HEADER.source]: nd.source, ...(e.person ? { [HEADER.subject]: e.person.subject } : {}) },
      });
    }
  }

  const first = batch[0];
  const last = batch[batch.length - 1];
  const ledger: LedgerEntry | undefined =
    first && last
      ? {
          ...counts,
          source: first.entity.source,
          topic: first.topic,
          partition: first.partition,
          first_offset: Number(first.message.offset),
          last_offset: Number(last.message.offset),
          errors,
          committed_at: new Date(ctx.now()).toISOString(),
        }
      : undefined;
  if (ledger) push(ctx.topics.ledger, ledgerMessage(ledger));
  return { topicMessages: [...out].map(([topic, messages]) => ({ topic, messages })), outOfLine, counts, errors, ledger };
}
