/**
 * One batch of a source on its way in: the records its ingest topic takes, the dead letters of
 * those it cannot (with their ledger entry), and the position reading them reached, sent in one
 * Kafka transaction (IngestLog), so a crash between batches neither loses nor repeats a record.
 * File ingest and API connectors write through it.
 */
import type { Kafka, Message, TopicMessages } from 'kafkajs';
import type { RecordErrorEntry } from '../contracts/errors.js';
import type { Lineage } from '../contracts/lineage.js';
import { type TopicNames, topicNames } from '../contracts/topic-names.js';
import { sendTransaction } from '../kafka/send.js';
import { maxMessageBytesOf } from '../kafka/topic-admin.js';
import { exclusiveProducer } from '../kafka/transactional.js';
import { ExtractionDeadLetters, type ExtractionDeadLettersOptions, type ExtractionOrigin, tooLarge } from './dead-letters.js';
import { readState, stateMessage } from './state.js';

export class IngestBatch {
  private records: Message[] = [];
  private readonly dead: ExtractionDeadLetters;
  private readonly names: TopicNames;

  /** `writer`: what reads the source (`file-ingest`, `connector`); `maxMessageBytes`: the ingest topic's limit. */
  constructor(
    private readonly o: ExtractionDeadLettersOptions & { maxRecordBytes: number },
    private readonly maxMessageBytes: number,
    writer: string,
  ) {
    this.dead = new ExtractionDeadLetters(o, writer);
    this.names = topicNames(o.namespace);
  }

  /** Records and dead letters gathered since the last take. */
  get size(): number {
    return this.records.length + this.dead.size;
  }

  /** Adds the record, or dead-letters it when the ingest topic cannot take it for its size; whether it was added. */
  async add(message: Message, lineage: Lineage, at: ExtractionOrigin, original: unknown): Promise<boolean> {
    const large = tooLarge(message, this.o.maxRecordBytes, this.maxMessageBytes);
    if (large) {
      await this.dead.add(at, lineage, large, original);
      return false;
    }
    this.records.push(message);
    return true;
  }

  /** Dead-letters a record that cannot be taken, with why. */
  reject(at: ExtractionOrigin, lineage: Lineage, error: RecordErrorEntry, original: unknown): Promise<void> {
    return this.dead.add(at, lineage, error, original);
  }

  /**
   * What one transaction sends, and an empty batch: the records, the dead letters with their
   * ledger entry (`origin`, from `first` to `last`), and the position under `stateKey`.
   */
  take(origin: string, first: number, last: number, stateKey: string, state: unknown): TopicMessages[] {
    const records = this.records;
    this.records = [];
    return [
      { topic: this.names.ingest(this.o.entity.source), messages: records },
      ...this.dead.take(origin, first, last),
      { topic: this.names.connectorState, messages: [stateMessage(stateKey, state)] },
    ];
  }
}

/**
 * Where a source's batches go with its position, one transaction at a time: Kafka, through a
 * producer the reader owns (kafkaIngestLog). Opening it fences any earlier reader with the same
 * transactional id, so the position read next is final. `S` is the position's shape.
 */
export interface IngestLog<S> {
  /** The last committed position under a state key. */
  position(key: string): Promise<S | undefined>;
  /** The largest message the topic takes. */
  maxMessageBytes(topic: string): Promise<number>;
  /** Every message, or none of them. */
  commit(topicMessages: TopicMessages[]): Promise<void>;
  close(): Promise<void>;
}

/** The ingest log in Kafka: an exclusive transactional producer, the state topic read to its end. */
export async function kafkaIngestLog<S>(kafka: Kafka, namespace: string, transactionalId: string, deadLetterMaxBytes: number): Promise<IngestLog<S>> {
  const names = topicNames(namespace);
  const batchLimits = new Map([[names.deadLetter, deadLetterMaxBytes]]);
  const producer = await exclusiveProducer(kafka, transactionalId);
  return {
    position: (key) => readState<S>(kafka, names.connectorState, key),
    maxMessageBytes: (topic) => maxMessageBytesOf(kafka, topic),
    commit: (topicMessages) => sendTransaction(producer, topicMessages, batchLimits),
    close: () => producer.disconnect(),
  };
}
