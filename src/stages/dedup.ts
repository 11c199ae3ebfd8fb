/**
 * Stage 3: exact duplicates. Redis is the shared authority: `SET key claim NX PX window GET` (run
 * for a whole batch in one script call, storage/redis-scripts.ts) claims its content (or its event
 * id) for the window. The claim's value is the input position of the claiming record, so a record
 * replayed after a crash finds its own claim and
 * passes instead of vanishing as a duplicate of itself. Same event id with other content is an id
 * collision: the record passes and is flagged. Every claim a record holds is also written to the
 * dedup changelog topic in its batch's transaction, so a Redis that loses its data is rebuilt
 * before the next claim (storage/state-changelog.ts).
 *
 * No in-process bloom filter sits in front: every new record must be claimed in Redis anyway (another
 * worker may hold the same content), so a bloom filter cannot save a round trip, only add its
 * cost (bench:stages measures both).
 */
import { hash } from 'node:crypto';
import type { NearDuplicateEvent } from '../contracts/near-duplicate.js';
import { topicNames } from '../contracts/topic-names.js';
import { readPath } from '../schema/field-path.js';
import { StateLostError } from '../storage/redis.js';
import { claimAll } from '../storage/redis-scripts.js';
import { changelogValue, RestorableState } from '../storage/state-changelog.js';
import type { Envelope } from './envelope.js';
import { positionOf, refOf } from './envelope.js';
import { defineStage } from './stage.js';

export type Decision = { kind: 'new' } | { kind: 'duplicate' } | { kind: 'collision'; event: NearDuplicateEvent };

/** One record's claim: the Redis key it claims and the value it claims it with. */
export interface Claim {
  e: Envelope;
  key: string;
  claim: string;
  hash: string;
  position: string;
  eventMode: boolean;
}

/** The claim of a decoded record: its event id when its entity has one, else its content. */
export function claimOf(e: Envelope, value: Record<string, unknown>, prefix: string): Claim {
  const { eventIdField, ignoreFields } = e.entity.definition.dedup;
  const eventId = eventIdField ? readPath(value, eventIdField) : undefined;
  const eventMode = typeof eventId === 'string' && eventId.length > 0;
  // Avro binary of the decoded record: field order fixed by the schema, values as normalised by the quality stage;
  // an event's content without the fields a resend changes (the record's own body is then not needed here).
  const content =
    eventMode && ignoreFields.length > 0 ? e.entity.type.toBuffer(withoutFields(value, ignoreFields)) : (e.body ??= e.entity.type.toBuffer(value));
  const digest = hash('sha1', content, 'base64url');
  const position = positionOf(e);
  return {
    e,
    hash: digest,
    position,
    eventMode,
    key: eventMode ? `${prefix}:${e.entity.id}:id:${eventId}` : `${prefix}:${e.entity.id}:c:${digest}`,
    // Event claims carry the content hash (to tell a duplicate from a collision) and the claimer's ingest id.
    claim: eventMode ? `${position}|${digest}|${e.lineage.ingestId}` : position,
  };
}

/** A copy of the record with these top-level fields at their type's zero (a time at 0, a text empty): what a resend does not change. */
function withoutFields(value: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const copy = { ...value };
  for (const f of fields) {
    if (typeof copy[f] === 'number') copy[f] = 0;
    else if (typeof copy[f] === 'string') copy[f] = '';
  }
  return copy;
}

/**
 * What the previous claim of a record's key (null: this record claimed it) makes the record: new,
 * a duplicate, or — same event id, other content — an id collision. A claim made from the record's
 * own position is its own earlier work, replayed after a crash: the record is new.
 */
export function decide(w: Claim, previous: string | null | undefined, now: number): Decision {
  if (previous === null || previous === undefined) return { kind: 'new' };
  const [claimedAt, claimedHash, claimedIngestId] = String(previous).split('|');
  if (claimedAt === w.position) return { kind: 'new' };
  if (!w.eventMode || claimedHash === w.hash) return { kind: 'duplicate' };
  const [topic = '', partition = '0', offset = '0'] = (claimedAt ?? '').split('/');
  const record = refOf(w.e);
  return {
    kind: 'collision',
    event: {
      kind: 'ID_COLLISION',
      source: w.e.entity.source,
      entity: w.e.entity.name,
      record,
      matched: {
        ingest_id: claimedIngestId ?? '',
        source: w.e.entity.source,
        natural_id: record.natural_id,
        topic,
        partition: Number(partition),
        offset: Number(offset),
      },
      keys: ['event_id'],
      score: null,
      detected_at: now,
    },
  };
}

export const dedupStage = defineStage({
  name: 'dedup',
  description:
    "Drops exact duplicates within the dedup window: a record's content (or its event id) is claimed in Redis; the same event id with other content is an id collision, flagged.",
  reads: ['entity', 'value', 'body'],
  writes: ['body', 'nearDuplicates', 'stateChanges'],
  create: (ctx) => {
    const windowMs = Math.round(ctx.topology.dedupWindowDays * 86_400_000);
    const prefix = `${ctx.topology.namespace}:dedup`;
    const state = new RestorableState(ctx.redis, prefix, topicNames(ctx.topology.namespace).dedupChangelog, ctx.readChangelog);

    /** Claims every key; a state Redis lost is rebuilt from its changelog first. */
    async function claim(work: Claim[]): Promise<Awaited<ReturnType<typeof claimAll>>> {
      const keys = work.map((w) => w.key);
      const claims = work.map((w) => w.claim);
      try {
        return await claimAll(ctx.redis, state.marker, keys, claims, windowMs);
      } catch (err) {
        if (!(err instanceof StateLostError)) throw err;
        await state.rebuild();
        return await claimAll(ctx.redis, state.marker, keys, claims, windowMs);
      }
    }

    return {
      async process(batch) {
        const work: Claim[] = [];
        for (const e of batch) {
          if (e.outcome === 'pending' && e.value) work.push(claimOf(e, e.value, prefix));
        }
        if (work.length === 0) return;
        const { epoch, previous } = await claim(work);
        const now = ctx.now();
        const decisions = work.map((w, i) => decide(w, previous[i], now));
        // Applied only once every reply is in, so a retry after a Redis failure starts from a clean batch.
        work.forEach((w, i) => {
          const d = decisions[i]!;
          if (d.kind === 'duplicate') w.e.outcome = 'duplicate';
          else if (d.kind === 'collision') w.e.nearDuplicates.push(d.event);
          // A claim this record holds (made now, or by its own earlier attempt) goes to the changelog with its batch.
          if (d.kind === 'new') w.e.stateChanges.push({ changelog: state.changelog, key: w.key, value: changelogValue(now + windowMs, w.claim), epoch });
        });
      },
      async beforeCommit(batch) {
        const epochs = new Set<string>();
        for (const e of batch) for (const c of e.stateChanges) if (c.changelog === state.changelog) epochs.add(c.epoch);
        for (const epoch of epochs) await state.verify(epoch);
      },
    };
  },
});
