/**
 * One file into Kafka: its rows, mapped to the entity's fields, go to `<ns>.ingest.<source>` as
 * JSON with lineage (file, sha256, row); rows that cannot be mapped go to `<ns>.dead-letter` with
 * their file and row number, counted in the ledger. Rows are sent in Kafka transactions (so with
 * acks=all and the idempotent producer), each carrying the file's position in
 * `<ns>.connector-state`: an interrupted file resumes after its last committed row, and a file
 * whose sha256 was already ingested for the source is skipped unless forced.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Kafka, Message } from 'kafkajs';
import type { DeadLetterContract } from '../contracts/dead-letter.js';
import { describeError, type RecordErrorEntry, UnreadableFileError } from '../contracts/errors.js';
import { HEADER, ingestIdFrom, type Lineage, lineageHeaders, type SourceKind } from '../contracts/lineage.js';
import { topicNames } from '../contracts/topics.js';
import { crashPoint } from '../faults/failpoints.js';
import { sendTransaction } from '../kafka/send.js';
import { maxMessageBytesOf } from '../kafka/topics.js';
import { exclusiveProducer } from '../kafka/transactional.js';
import type { UnidentifiedSealer } from '../privacy/sealed.js';
import { KAFKA_OUTAGE_RETRY, retry } from '../retry.js';
import type { CompiledEntity } from '../schema/entity.js';
import type { ObjectStore } from '../storage/object-store.js';
import { ExtractionDeadLetters, tooLarge } from './dead-letters.js';
import { compileMapping, type MappingFile } from './mapping.js';
import type { FormatSpec } from './readers/reader.js';
import { readState, stateMessage } from './state.js';

interface FileState {
  kind: 'file';
  source: string;
  file: string;
  sha256: string;
  /** The first row not yet committed. */
  next_row: number;
  sent: number;
  dead_lettered: number;
  status: 'running' | 'complete';
  updated_at: string;
}

/** Rows per Kafka transaction, and per checkpoint, unless `--batch-rows` says otherwise. */
export const DEFAULT_BATCH_ROWS = 2_000;

export interface IngestProgress {
  rows: number;
  bytesRead: number;
  totalBytes: number;
}

export interface IngestFileOptions {
  kafka: Kafka;
  namespace: string;
  entity: CompiledEntity;
  file: string;
  format: FormatSpec;
  mapping: MappingFile;
  sourceKind: SourceKind;
  deadLetter: DeadLetterContract;
  /** The topology's record limit: a row over it is dead-lettered (size.too_large) and the file goes on. */
  maxRecordBytes: number;
  /** The raw layer's storage, where a dead letter too large for its topic keeps its original value. */
  store: ObjectStore;
  force?: boolean;
  /** Rows per transaction. */
  batchRows?: number;
  onProgress?: (p: IngestProgress) => void;
  /** A failed attempt, before the wait after which the file resumes from its last committed row. */
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
  /** Seals unmappable rows before they are dead-lettered (the CLI always passes one; docs/privacy.md). */
  sealer?: UnidentifiedSealer;
}

export interface IngestFileResult {
  file: string;
  sha256: string;
  outcome: 'ingested' | 'resumed' | 'skipped';
  rows: number;
  sent: number;
  deadLettered: number;
  /** The row a resumed file started from. */
  resumedAt: number | undefined;
  unknownColumns: string[];
  ms: number;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Ingests the file, resuming after a failed Kafka transaction (a broker that died or stalled, a
 * leader election, a broker answering out of sequence): the aborted batch is sent again by a new
 * producer from the file's last committed position, so nothing is lost or sent twice. The attempts
 * (1 s doubling to 30 s, about two minutes in all) outlast a broker failover: a dead broker's
 * partitions move after its session times out (9 s by default) and the election that follows.
 */
export function ingestFile(o: IngestFileOptions): Promise<IngestFileResult> {
  return retry(() => ingestFileOnce(o), { ...KAFKA_OUTAGE_RETRY, onRetry: o.onRetry });
}

async function ingestFileOnce(o: IngestFileOptions): Promise<IngestFileResult> {
  const started = performance.now();
  const names = topicNames(o.namespace);
  const batchLimits = new Map([[names.deadLetter, o.deadLetter.maxMessageBytes]]);
  const name = path.basename(o.file);
  const sha256 = await sha256File(o.file);
  const key = `file:${o.entity.source}:${sha256}`;
  const producer = await exclusiveProducer(o.kafka, `${o.namespace}.ingest.${o.entity.source}.${sha256.slice(0, 24)}`);
  // One transaction in flight while the next batch is read and mapped: the broker's work and ours overlap.
  let inFlight: Promise<void> = Promise.resolve();
  try {
    const previous = await readState<FileState>(o.kafka, names.connectorState, key);
    const result: IngestFileResult = {
      file: o.file,
      sha256,
      outcome: 'ingested',
      rows: 0,
      sent: 0,
      deadLettered: 0,
      resumedAt: undefined,
      unknownColumns: [],
      ms: 0,
    };
    if (previous?.status === 'complete' && !o.force) {
      return {
        ...result,
        outcome: 'skipped',
        rows: previous.sent + previous.dead_lettered,
        sent: previous.sent,
        deadLettered: previous.dead_lettered,
        ms: performance.now() - started,
      };
    }
    const resumeFrom = previous?.status === 'running' && !o.force ? previous.next_row : 1;
    if (resumeFrom > 1) {
      result.outcome = 'resumed';
      result.resumedAt = resumeFrom;
      result.sent = previous!.sent;
      result.deadLettered = previous!.dead_lettered;
    }

    const maxMessageBytes = await maxMessageBytesOf(o.kafka, names.ingest(o.entity.source));
    const mapper = compileMapping(o.entity.schema, o.mapping);
    const reader = o.format.create(o.file, { delimiter: o.mapping.delimiter, maxRowBytes: o.maxRecordBytes });
    const totalBytes = fs.statSync(o.file).size;
    const batchRows = o.batchRows ?? DEFAULT_BATCH_ROWS;
    let records: Message[] = [];
    const dead = new ExtractionDeadLetters({
      names,
      deadLetter: o.deadLetter,
      store: o.store,
      sealer: o.sealer,
      source: o.entity.source,
      entity: o.entity.name,
      writer: 'file-ingest',
    });
    let firstRow = resumeFrom;
    let lastRow = resumeFrom - 1;

    /** Starts the batch's transaction once the previous one committed; a failure of either surfaces at the next commit or at the end. */
    const commit = async (status: FileState['status']) => {
      const receivedState: FileState = {
        kind: 'file',
        source: o.entity.source,
        file: name,
        sha256,
        next_row: lastRow + 1,
        sent: result.sent,
        dead_lettered: result.deadLettered,
        status,
        updated_at: new Date().toISOString(),
      };
      const topicMessages = [
        { topic: names.ingest(o.entity.source), messages: records },
        ...dead.take(`file:${name}`, firstRow, lastRow),
        { topic: names.connectorState, messages: [stateMessage(key, receivedState)] },
      ];
      const progress: IngestProgress = { rows: result.rows, bytesRead: reader.bytesRead(), totalBytes };
      records = [];
      firstRow = lastRow + 1;
      await inFlight;
      inFlight = sendTransaction(producer, topicMessages, batchLimits).then(() => {
        crashPoint('ingest-after-commit');
        o.onProgress?.(progress);
      });
      // Not unhandled while the next batch is read: it is awaited by the next commit or at the end.
      inFlight.catch(() => undefined);
    };
    let receivedAt = Date.now();
    let anyKnownColumn = false;
    const deadLetter = async (row: number, lineage: Lineage, error: RecordErrorEntry, cells: unknown) => {
      await dead.add({ topic: `file:${name}`, offset: row }, lineage, error, cells);
      result.deadLettered++;
    };
    const lineageOf = (row: number, line: number | undefined): Lineage => ({
      ingestId: ingestIdFrom(`${sha256}/${row}`),
      source: o.entity.source,
      sourceKind: o.sourceKind,
      receivedAt,
      origin: JSON.stringify({ file: name, sha256, row, ...(line !== undefined ? { line } : {}) }),
    });

    try {
      for await (const r of unreadableOnError(reader.rows(), name)) {
        if (r.row < resumeFrom) continue;
        result.rows++;
        lastRow = r.row;
        const lineage = lineageOf(r.row, r.line);
        const mapped = 'rejected' in r ? ({ ok: false, error: { ...r.rejected, field: null } } as const) : mapper.map(r.cells);
        if (mapped.ok) {
          anyKnownColumn = true;
          const id = o.entity.naturalId(mapped.value);
          // The entity travels with the row: a source may carry several (commerce: orders and products).
          const message = { key: id || null, value: JSON.stringify(mapped.value), headers: { ...lineageHeaders(lineage), [HEADER.entity]: o.entity.name } };
          const large = tooLarge(message, o.maxRecordBytes, maxMessageBytes);
          if (large) {
            await deadLetter(r.row, lineage, large, mapped.value);
          } else {
            records.push(message);
            result.sent++;
          }
        } else {
          if (mapped.error.code === 'mapping.unknown_columns' && r.row === 1 && o.format.headerRow && 'cells' in r) {
            // Not one header names a field: the "header" was the file's first row of data, so it is counted and dead-lettered too.
            result.rows++;
            await deadLetter(0, lineageOf(0, 1), mapped.error, Object.keys(r.cells));
          }
          await deadLetter(r.row, lineage, mapped.error, 'cells' in r ? r.cells : undefined);
        }
        if (records.length + dead.size >= batchRows) {
          await commit('running');
          receivedAt = Date.now();
        }
      }
    } catch (err) {
      // A file unreadable from some row on: what was read before it (dead letters included) is committed, then the file fails.
      if (err instanceof UnreadableFileError) {
        await commit('running');
        await inFlight;
      }
      throw err;
    }
    await commit('complete');
    await inFlight;
    // Column names are printed only when the file has a real header: otherwise they are its first row's values.
    result.unknownColumns = anyKnownColumn ? [...mapper.unknownColumns] : [];
    result.ms = performance.now() - started;
    return result;
  } finally {
    // A transaction still in flight after a failure is let finish (or fail) before its producer goes.
    await inFlight.catch(() => undefined);
    await producer.disconnect();
  }
}

/** What the reader throws means the file itself is unreadable; what the loop body throws (Kafka) does not. */
async function* unreadableOnError<T>(rows: AsyncIterable<T>, file: string): AsyncGenerator<T> {
  const it = rows[Symbol.asyncIterator]();
  for (;;) {
    let step: IteratorResult<T>;
    try {
      step = await it.next();
    } catch (err) {
      throw new UnreadableFileError(`${file} cannot be read: ${describeError(err)}`, { cause: err });
    }
    if (step.done) return;
    yield step.value;
  }
}
