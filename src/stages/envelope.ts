/** A record on its way through the stages: the input message, its lineage, and what the stages decided. */
import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { RecordErrorCode, RecordErrorEntry } from '../contracts/errors.js';
import type { Lineage } from '../contracts/lineage.js';
import type { NearDuplicateEvent, RecordRef } from '../contracts/near-duplicate.js';
import type { Observation } from '../observability/record-profile.js';
import type { RecordPerson } from '../privacy/records.js';
import type { CompiledEntity } from '../schema/entity.js';

type Outcome = 'pending' | 'raw' | 'duplicate' | 'dead-letter' | 'suppressed';

export interface Envelope {
  /** The source's primary entity until decoding finds the record is another of its entities. */
  entity: CompiledEntity;
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
  readonly lineage: Lineage;
  /** What is wrong with its lineage headers (checkLineage), for the decode stage to dead-letter it. */
  readonly lineageProblem: string | undefined;
  /** The decoded record in its Avro form (timestamps as epoch ms, decimals as strings). */
  value: Record<string, unknown> | undefined;
  /** What the dataset checks learn of it as it arrived: its event, null fields and properties (no values). */
  observed: Observation | undefined;
  /** Avro binary body of `value`, once computed (dedup hashes it, the router frames it). */
  body: Buffer | undefined;
  outcome: Outcome;
  failedStage: string | undefined;
  errors: RecordErrorEntry[];
  /** Warn-level quality codes: the record passes, flagged in its lineage. */
  flags: RecordErrorCode[];
  nearDuplicates: NearDuplicateEvent[];
  /** Candidates the near-duplicate stage scored below its threshold: counted, not emitted. */
  nearDuplicateCandidatesBelowThreshold: number;
  /** Its personal fields hold ciphertext now (the encrypt stage): it is written with the entity's encrypted schema. */
  encrypted: boolean;
  /** A dead letter's original key, value and the producer's own headers sealed for its subject (the encrypt stage), kept in place of the plain ones. */
  sealedOriginal: { key: Buffer | null; value: Buffer; headers: IHeaders } | undefined;
  /** Its subject and the pseudonyms of the identifiers in its value, once a privacy stage has computed them (quality no longer changes them). */
  person: RecordPerson | undefined;
  /** What it changed in a stage's Redis state, for that state's changelog topic (storage/state-changelog.ts). */
  stateChanges: StateChange[];
}

/** One change to Redis state: its changelog topic, key and value (null: the key is gone), and the state's epoch it was made under (state-changelog.ts). */
interface StateChange {
  changelog: string;
  key: Buffer;
  value: Buffer | null;
  epoch: string | undefined;
  /** Sent with the batch's other changes of its changelog in few messages (changelogBatches): its state never forgets a key. */
  batched?: true;
}

/** The epochs a batch's changes to one changelog's state were made under. */
export function epochsOf(batch: Envelope[], changelog: string): string[] {
  const epochs: string[] = [];
  for (const e of batch) for (const c of e.stateChanges) if (c.changelog === changelog && c.epoch !== undefined) epochs.push(c.epoch);
  return epochs;
}

export function newEnvelope(
  entity: CompiledEntity,
  topic: string,
  partition: number,
  message: KafkaMessage,
  lineage: Lineage,
  lineageProblem?: string,
): Envelope {
  return {
    entity,
    topic,
    partition,
    message,
    lineage,
    lineageProblem,
    value: undefined,
    observed: undefined,
    body: undefined,
    outcome: 'pending',
    failedStage: undefined,
    errors: [],
    flags: [],
    nearDuplicates: [],
    nearDuplicateCandidatesBelowThreshold: 0,
    encrypted: false,
    sealedOriginal: undefined,
    person: undefined,
    stateChanges: [],
  };
}

export function reject(envelope: Envelope, stage: string, errors: RecordErrorEntry[]): void {
  envelope.outcome = 'dead-letter';
  envelope.failedStage = stage;
  envelope.errors.push(...errors);
}

/** Where this input record sits: the claim identity that lets a replay recognise its own earlier work. */
export function positionOf(e: Envelope): string {
  return `${e.topic}/${e.partition}/${e.message.offset}`;
}

export function refOf(e: Envelope): RecordRef {
  return {
    ingest_id: e.lineage.ingestId,
    source: e.entity.source,
    natural_id: e.entity.naturalId(e.value ?? {}),
    topic: e.topic,
    partition: e.partition,
    offset: Number(e.message.offset),
  };
}
