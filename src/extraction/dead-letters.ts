/**
 * What extraction cannot send to its ingest topic — a file row that cannot be mapped, an API record
 * that is not an object or is larger than the topic takes — dead-lettered where it was read, in the
 * same Kafka transaction as the records around it and their position: its original sealed (it is
 * personal data under names no contract marks: docs/privacy.md), kept out of line when large, and
 * counted in the ledger (in = dead_letter for them), as the topology counts its own.
 */
import type { Message, TopicMessages } from 'kafkajs';
import { type DeadLetterContract, deadLetterMessage, messageBytes } from '../contracts/dead-letter.js';
import type { RecordErrorEntry } from '../contracts/errors.js';
import { type LedgerEntry, ledgerMessage } from '../contracts/ledger.js';
import type { Lineage } from '../contracts/lineage.js';
import { type TopicNames, topicNames } from '../contracts/topic-names.js';
import type { UnidentifiedSealer } from '../privacy/sealed.js';
import type { CompiledEntity } from '../schema/entity.js';
import type { ObjectStore } from '../storage/object-store.js';

/** What every way in that dead-letters already holds: a file ingest's options, a connector's. */
export interface ExtractionDeadLettersOptions {
  namespace: string;
  deadLetter: DeadLetterContract;
  /** The raw layer's storage, where a dead letter too large for its topic keeps its original value. */
  store: ObjectStore;
  /** Seals originals before they are dead-lettered (the CLI always passes one). */
  sealer?: UnidentifiedSealer;
  entity: CompiledEntity;
}

/** Where a dead-lettered original was read: `file:<name>` or `connector:<name>`, and its row or record number. */
export interface ExtractionOrigin {
  topic: string;
  offset: number;
}

export class ExtractionDeadLetters {
  private messages: Message[] = [];
  private codes: Record<string, number> = {};
  private readonly names: TopicNames;

  /** `writer`: what wrote them, in the dead letters' Kafka Connect headers (`file-ingest`, `connector`). */
  constructor(
    private readonly o: ExtractionDeadLettersOptions,
    private readonly writer: string,
  ) {
    this.names = topicNames(o.namespace);
  }

  get size(): number {
    return this.messages.length;
  }

  /** Dead-letters one original (cells, a record, or nothing when there is none to keep) with its error. */
  async add(origin: ExtractionOrigin, lineage: Lineage, error: RecordErrorEntry, original: unknown): Promise<void> {
    const bytes = original === undefined ? null : Buffer.from(JSON.stringify(original));
    const value = bytes && this.o.sealer ? await this.o.sealer.seal(this.o.entity.source, lineage.receivedAt, bytes) : bytes;
    const { message, outOfLine } = deadLetterMessage(
      this.o.deadLetter,
      {
        errors: [error],
        stage: 'extract',
        source: this.o.entity.source,
        entity: this.o.entity.name,
        original: { key: null, value, headers: undefined },
        origin: { topic: origin.topic, partition: 0, offset: origin.offset },
        lineage,
        failedAt: Date.now(),
      },
      this.writer,
    );
    if (outOfLine) await this.o.store.putIfAbsent(outOfLine.key, outOfLine.bytes);
    this.messages.push(message);
    this.codes[error.code] = (this.codes[error.code] ?? 0) + 1;
  }

  /**
   * The dead letters gathered since the last call, and their ledger entry (`topic`, from `first`
   * to `last`: the rows or records they were among), for the transaction that sends the rest.
   */
  take(topic: string, first: number, last: number): TopicMessages[] {
    const messages = this.messages;
    const codes = this.codes;
    this.messages = [];
    this.codes = {};
    if (messages.length === 0) return [];
    const entry: LedgerEntry = {
      source: this.o.entity.source,
      topic,
      partition: 0,
      first_offset: first,
      last_offset: last,
      in: messages.length,
      raw: 0,
      duplicates: 0,
      dead_letter: messages.length,
      suppressed: 0,
      near_duplicates: 0,
      errors: codes,
      committed_at: new Date().toISOString(),
    };
    return [
      { topic: this.names.deadLetter, messages },
      { topic: this.names.ledger, messages: [ledgerMessage(entry)] },
    ];
  }
}

/**
 * Why a message cannot go to its ingest topic for its size, or undefined when it fits: its value
 * over the topology's record limit, or the whole record (key, headers, Kafka's own bytes) over the
 * topic's max.message.bytes, which the broker would refuse.
 */
export function tooLarge(message: Message, maxRecordBytes: number, maxMessageBytes: number): RecordErrorEntry | undefined {
  const value = message.value === null || message.value === undefined ? 0 : Buffer.byteLength(message.value);
  if (value > maxRecordBytes) return { code: 'size.too_large', field: null, message: `the record is over the ${maxRecordBytes}-byte record limit` };
  if (messageBytes(message) > maxMessageBytes)
    return { code: 'size.too_large', field: null, message: `the record is over the ingest topic's ${maxMessageBytes}-byte max.message.bytes` };
  return undefined;
}
