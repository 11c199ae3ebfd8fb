/**
 * Stage 3: exact duplicates. Redis is the shared authority: each record claims its content (or
 * its event id) for the window, for a whole batch in one script call (storage/dedup-claims.ts).
 * The claim holds the input position of the claiming record, so a record replayed after a crash
 * finds its own claim and passes instead of vanishing as a duplicate of itself. Same event id with
 * other content is an id collision: the record passes and is flagged. Every claim a record holds
 * is also written to the dedup changelog topic in its batch's transaction (a batch's claims in few
 * messages: no claim is ever forgotten by its key), so a Redis that loses its data is rebuilt before
 * the next claim (storage/state-changelog.ts).
 *
 * No in-process bloom filter sits in front: every new record must be claimed in Redis anyway (another
 * worker may hold the same content), so a bloom filter cannot save a round trip, only add its
 * cost (bench:stages measures both).
 */
import { hash } from 'node:crypto';
import type { NearDuplicateEvent } from '../contracts/near-duplicate.js';
import { topicNames } from '../contracts/topic-names.js';
import { readPath } from '../schema/field-path.js';
import { CLAIM_DIGEST_BYTES, claimAll, claimBody, claimValue, restoreClaim } from '../storage/dedup-claims.js';
import { packFields, unpackFields } from '../storage/sliced-state.js';
import { changelogValue, pipelineRestorer, RestorableState } from '../storage/state-changelog.js';
import type { Envelope } from './envelope.js';
import { epochsOf, positionOf, refOf } from './envelope.js';
import { defineStage } from './stage.js';

export type Decision = { kind: 'new' } | { kind: 'duplicate' } | { kind: 'collision'; event: NearDuplicateEvent };

/** One record's claim: where it lives, what it holds, and what deciding needs. */
export interface Claim {
  e: Envelope;
  /** Its name's digest: where Redis holds it. */
  digest: Buffer;
  /** Its name in the earlier layout: `<prefix>:<entity>:c:<content hash>`, or `…:id:<event id>`. */
  legacyKey: string;
  /** What it holds: the claimer's position (its topic left out when it is its source's ingest topic), and an event's content hash and ingest id. */
  claim: Buffer;
  hash: string;
  position: string;
  eventMode: boolean;
}

/** Characters of the content hash (base64url) an event's claim keeps to tell a duplicate from a collision: 66 bits. */
const CLAIMED_HASH_CHARS = 11;

/** The claim of a decoded record, made at `now`: its event id when its entity has one, else its content. */
export function claimOf(e: Envelope, value: Record<string, unknown>, o: { legacyPrefix: string; ingestTopic: string; now: number }): Claim {
  const { eventIdField, ignoreFields } = e.entity.definition.dedup;
  const eventId = eventIdField ? readPath(value, eventIdField) : undefined;
  const eventMode = typeof eventId === 'string' && eventId.length > 0;
  // Avro binary of the decoded record: field order fixed by the schema, values as normalised by the quality stage;
  // an event's content without the fields a resend changes (the record's own body is then not needed here).
  const content =
    eventMode && ignoreFields.length > 0 ? e.entity.type.toBuffer(withoutFields(value, ignoreFields)) : (e.body ??= e.entity.type.toBuffer(value));
  const digest = hash('sha1', content, 'base64url');
  const name = eventMode ? `${e.entity.id}:id:${eventId}` : `${e.entity.id}:c:${digest}`;
  const position = [e.topic === o.ingestTopic ? '' : e.topic, String(e.partition), e.message.offset];
  // Event claims also carry the content hash (to tell a duplicate from a collision) and the claimer's ingest id.
  const body = packFields(eventMode ? [...position, digest.slice(0, CLAIMED_HASH_CHARS), e.lineage.ingestId] : position);
  return {
    e,
    hash: digest,
    position: positionOf(e),
    eventMode,
    digest: hash('sha1', name, 'buffer').subarray(0, CLAIM_DIGEST_BYTES),
    legacyKey: `${o.legacyPrefix}:${name}`,
    claim: claimValue(o.now, body),
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

/** A previous claim's position, content hash and ingest id, from either layout; the topic of its own entity's ingest topic when left out. */
function claimed(previous: Buffer, ingestTopic: string): { position: string; hash: string; ingestId: string } {
  const body = claimBody(previous);
  if (!body) {
    const [position = '', hash = '', ingestId = ''] = previous.toString().split('|');
    return { position, hash, ingestId };
  }
  const [topic = '', partition = '', offset = '', hash = '', ingestId = ''] = unpackFields(body) ?? [];
  return { position: `${topic || ingestTopic}/${partition}/${offset}`, hash, ingestId };
}

/**
 * What the previous claim of a record (null: this record claimed it) makes the record: new,
 * a duplicate, or — same event id, other content — an id collision. A claim made from the record's
 * own position is its own earlier work, replayed after a crash: the record is new.
 */
export function decide(w: Claim, previous: Buffer | null | undefined, now: number, ingestTopic: string): Decision {
  if (previous === null || previous === undefined) return { kind: 'new' };
  const was = claimed(previous, ingestTopic);
  if (was.position === w.position) return { kind: 'new' };
  if (!w.eventMode || was.hash === w.hash.slice(0, was.hash.length)) return { kind: 'duplicate' };
  const [topic = '', partition = '0', offset = '0'] = was.position.split('/');
  const record = refOf(w.e);
  return {
    kind: 'collision',
    event: {
      kind: 'ID_COLLISION',
      source: w.e.entity.source,
      entity: w.e.entity.name,
      record,
      matched: {
        ingest_id: was.ingestId,
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
    const names = topicNames(ctx.topology.namespace);
    const legacyPrefix = `${ctx.topology.namespace}:dedup`;
    const prefix = `${ctx.topology.namespace}:dd:`;
    const restorer = pipelineRestorer(ctx.redis, (pipeline, entry) => restoreClaim(pipeline, { prefix, legacyPrefix: `${legacyPrefix}:`, windowMs }, entry));
    const state = new RestorableState(ctx.redis, legacyPrefix, names.dedupChangelog, ctx.readChangelog, restorer);

    return {
      async process(batch) {
        const now = ctx.now();
        const work: Claim[] = [];
        for (const e of batch) {
          if (e.outcome === 'pending' && e.value) work.push(claimOf(e, e.value, { legacyPrefix, ingestTopic: names.ingest(e.entity.source), now }));
        }
        if (work.length === 0) return;
        // A state Redis lost is rebuilt from its changelog first.
        const { epoch, previous } = await state.guarded(() => claimAll(ctx.redis, { marker: state.marker, prefix, now, windowMs }, work));
        const decisions = work.map((w, i) => decide(w, previous[i], now, names.ingest(w.e.entity.source)));
        // Applied only once every reply is in, so a retry after a Redis failure starts from a clean batch.
        work.forEach((w, i) => {
          const d = decisions[i]!;
          if (d.kind === 'duplicate') w.e.outcome = 'duplicate';
          else if (d.kind === 'collision') w.e.nearDuplicates.push(d.event);
          // A claim this record holds (made now, or by its own earlier attempt) goes to the changelog with its batch.
          if (d.kind === 'new')
            w.e.stateChanges.push({ changelog: state.changelog, key: w.digest, value: changelogValue(now + windowMs, w.claim), epoch, batched: true });
        });
      },
      async beforeCommit(batch) {
        await state.verify(epochsOf(batch, state.changelog));
      },
    };
  },
});
