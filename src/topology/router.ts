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
import { EventProfiles } from '../observability/record-profile.js';
import { type Envelope, reject } from '../stages/envelope.js';
import { changelogBatches } from '../storage/state-changelog.js';

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
  /** Codes of the dead-lettered records. */
  errors: Record<string, number>;
  /** Codes of the warnings flagged on records that went on (quality flags). */
  warnings: Record<string, number>;
  ledger: LedgerEntry | undefined;
}

/** The batch's messages (or batched changelog entries) by topic, in the order they were added. */
class Outbox<M = Message> {
  private readonly byTopic = new Map<string, M[]>();

  push(topic: string, m: M): void {
    let list = this.byTopic.get(topic);
    if (!list) this.byTopic.set(topic, (list = []));
    list.push(m);
  }

  topicMessages(): Array<{ topic: string; messages: M[] }> {
    return [...this.byTopic].map(([topic, messages]) => ({ topic, messages }));
  }
}

export function route(ctx: RouterContext, batch: Envelope[]): Routed {
  const out = new Outbox();
  const counts = emptyCounts();
  const errors: Record<string, number> = {};
  const warnings: Record<string, number> = {};
  const outOfLine: OutOfLineValue[] = [];
  const events = new EventProfiles();
  const batched = new Outbox<{ key: Buffer; value: Buffer }>();
  const count = (codes: Record<string, number>, code: string) => {
    codes[code] = (codes[code] ?? 0) + 1;
  };

  for (const e of batch) {
    counts.in++;
    if (e.observed) events.observe(e.observed);
    for (const f of e.flags) count(warnings, f);
    for (const c of e.stateChanges) {
      if (c.batched && c.value) batched.push(c.changelog, { key: c.key, value: c.value });
      else out.push(c.changelog, { key: c.key, value: c.value });
    }
    encodeBody(e);
    if (e.outcome === 'duplicate') counts.duplicates++;
    else if (e.outcome === 'suppressed') counts.suppressed++;
    else if (e.outcome === 'dead-letter') {
      counts.dead_letter++;
      for (const x of e.errors) count(errors, x.code);
      const dead = deadLetterOf(ctx, e);
      out.push(ctx.topics.deadLetter, dead.message);
      if (dead.outOfLine) outOfLine.push(dead.outOfLine);
    } else {
      e.outcome = 'raw';
      counts.raw++;
      out.push(ctx.topics.raw(e.entity.source), rawMessage(ctx, e));
      for (const m of nearDuplicateMessages(ctx, e)) {
        counts.near_duplicates++;
        out.push(ctx.topics.nearDuplicates, m);
      }
    }
  }
  for (const { topic, messages } of batched.topicMessages()) for (const m of changelogBatches(messages)) out.push(topic, m);
  // The ledger counts every code the batch met, warnings and errors alike (docs/contracts.md: Ledger).
  const codes = { ...warnings };
  for (const [code, n] of Object.entries(errors)) codes[code] = (codes[code] ?? 0) + n;
  const ledger = ledgerEntry(ctx, batch, counts, codes, events);
  if (ledger) out.push(ctx.topics.ledger, ledgerMessage(ledger));
  return { topicMessages: out.topicMessages(), outOfLine, counts, errors, warnings, ledger };
}

/** A passing record's Avro body, unless a stage made it; a value the type cannot hold is this record's problem, not the batch's. */
function encodeBody(e: Envelope): void {
  if (e.outcome !== 'pending' || !e.value || e.body) return;
  try {
    e.body = (e.encrypted ? e.entity.encrypted.type : e.entity.type).toBuffer(e.value);
  } catch (err) {
    reject(e, 'route', [{ code: 'stage.internal_error', field: null, message: safeMessage(err) }]);
  }
}

function deadLetterOf(ctx: RouterContext, e: Envelope): ReturnType<typeof deadLetterMessage> {
  return deadLetterMessage(
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
      event: e.observed?.event,
      failedAt: ctx.now(),
    },
    ctx.topologyName,
  );
}

function rawMessage(ctx: RouterContext, e: Envelope): Message {
  const headers: IHeaders = { ...lineageHeaders(e.lineage), [HEADER.entity]: e.entity.name };
  if (e.flags.length > 0) headers[HEADER.qualityFlags] = e.flags.join(',');
  if (e.nearDuplicates.length > 0) headers[HEADER.nearDuplicate] = 'true';
  if (e.person) headers[HEADER.subject] = e.person.subject;
  // Passthrough topologies (no stages) copy the input as it is.
  if (!e.value || !e.body) return { key: e.message.key, value: e.message.value, headers };
  return { key: e.entity.naturalId(e.value), value: frame(ctx.rawSchemaIds.get(e.entity.id)!, e.body), headers };
}

function nearDuplicateMessages(ctx: RouterContext, e: Envelope): Message[] {
  return e.nearDuplicates.map((nd) => ({
    key: `${nd.record.source}:${nd.record.natural_id}`,
    value: frame(ctx.nearDuplicate.id, ctx.nearDuplicate.type.toBuffer(nd)),
    headers: { [HEADER.ingestId]: nd.record.ingest_id, [HEADER.source]: nd.source, ...(e.person ? { [HEADER.subject]: e.person.subject } : {}) },
  }));
}

/** What the batch did, for the ledger topic: committed in the same transaction as the records. */
function ledgerEntry(
  ctx: RouterContext,
  batch: Envelope[],
  counts: LedgerCounts,
  errors: Record<string, number>,
  events: EventProfiles,
): LedgerEntry | undefined {
  const first = batch[0];
  const last = batch[batch.length - 1];
  if (!first || !last) return undefined;
  return {
    ...counts,
    source: first.entity.source,
    topic: first.topic,
    partition: first.partition,
    first_offset: Number(first.message.offset),
    last_offset: Number(last.message.offset),
    errors,
    ...(events.size > 0 ? { events: events.toJSON() } : {}),
    committed_at: new Date(ctx.now()).toISOString(),
  };
}
