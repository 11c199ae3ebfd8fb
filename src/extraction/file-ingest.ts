/**
 * One file into Kafka: its rows, mapped to the entity's fields, go to `<ns>.ingest.<source>` as
 * JSON with lineage (file, sha256, row); rows that cannot be mapped go to `<ns>.dead-letter` with
 * their file and row number, counted in the ledger. Rows are sent in Kafka transactions (so with
 * acks=all and the idempotent producer), each carrying the file's position in
 * `<ns>.connector-state`: an interrupted file resumes after its last committed row, and a file
 * whose sha256 was already ingested for the source, under any name, is a duplicate and sends
 * nothing unless forced. A gzip file is checked whole before its first row is sent, so one cut
 * off in transfer lands nothing; a file unreadable from some row on for another reason commits
 * the rows before it and says exactly which (PartlyIngestedError).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import type { Kafka } from 'kafkajs';
import type { DeadLetterContract } from '../contracts/dead-letter.js';
import { type C360Error, describeError, fileSystemFailure, type RecordErrorEntry, UnreadableFileError } from '../contracts/errors.js';
import { HEADER, ingestIdFrom, type Lineage, lineageHeaders, type SourceKind } from '../contracts/lineage.js';
import { topicNames } from '../contracts/topic-names.js';
import { crashPoint } from '../faults/failpoints.js';
import { endSpan, SpanKind, startSpan, traceparentOf } from '../observability/tracing.js';
import type { UnidentifiedSealer } from '../privacy/sealed.js';
import { KAFKA_OUTAGE_RETRY, retry } from '../retry.js';
import type { CompiledEntity } from '../schema/entity.js';
import type { ObjectStore } from '../storage/object-store.js';
import { IngestBatch, type IngestLog, kafkaIngestLog } from './ingest-batch.js';
import { compileMapping, type MappingFile, type RowMapper } from './mapping.js';
import { type FileRow, type FormatSpec, openText, type RowReader } from './readers/reader.js';

export interface FileState {
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
  /** Where rows and positions go (default: Kafka, kafkaIngestLog). */
  openLog?: (transactionalId: string) => Promise<IngestLog<FileState>>;
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
  /** The file's name in lineage, state and messages, when `file` is a local copy under another name (a landing-zone object). */
  name?: string;
  /** Ends a wait between attempts at once (SIGTERM). */
  signal?: AbortSignal;
}

export interface IngestFileResult {
  file: string;
  /** Its name in lineage and messages (the landing zone's object name, not its local copy's). */
  name: string;
  sha256: string;
  /** duplicate: its bytes were ingested for the source before (`duplicateOf`), nothing was sent. */
  outcome: 'ingested' | 'resumed' | 'duplicate';
  /** The name the same bytes were ingested under, and when, for a duplicate. */
  duplicateOf: { file: string; at: string } | undefined;
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
  return retry(() => ingestFileOnce(o), { ...KAFKA_OUTAGE_RETRY, onRetry: o.onRetry, signal: o.signal });
}

/** What a duplicate file's summary says: which file had the same bytes, and that nothing was sent. */
export function duplicateNote(r: IngestFileResult): string {
  const first = r.duplicateOf!;
  return `duplicate of ${first.file} (the same bytes, sha256 ${r.sha256.slice(0, 12)}…, ingested ${first.at}): nothing sent; --force to ingest it again`;
}

/**
 * A file that could be read up to some row and no further (a CSV line over the limit whose quoting
 * is lost, a damaged Parquet page): the rows before are committed, and the message says so exactly.
 */
export class PartlyIngestedError extends UnreadableFileError {
  constructor(
    file: string,
    readonly committed: { rows: number; lastRow: number; sent: number; deadLettered: number },
    reason: string,
  ) {
    super(
      `${file}: partly ingested: rows 1–${committed.lastRow} are committed (${committed.sent} sent, ${committed.deadLettered} dead-lettered), the rest is not, as the file cannot be read past row ${committed.lastRow} (${reason}); deliver the whole file again to land the rest (the rows already committed are dropped as exact duplicates).`,
    );
  }
}

/** A failure to read the file the ingest was given: the file's own (a permission, a folder), or the disk's when it passes (EIO, EMFILE). */
function unreadable(name: string, err: unknown): C360Error {
  const failure = fileSystemFailure('disk', `reading ${name}`, err);
  return failure?.retriable ? failure : new UnreadableFileError(`${name} cannot be read: ${describeError(err)}`, { cause: err });
}

function readingFile<T>(name: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw unreadable(name, err);
  }
}

/** The file's identity for its state: its name, its bytes' hash, and the state key made of them. */
interface FileIdentity {
  name: string;
  sha256: string;
  key: string;
}

/**
 * One pass over a file's rows from where it resumes: each row mapped into the batch (or dead-lettered
 * with its reason), and each batch committed with the file's position in one transaction. One
 * transaction is in flight while the next batch is read and mapped: the broker's work and ours overlap.
 */
class FileRun {
  private readonly batch: IngestBatch;
  private firstRow: number;
  private lastRow: number;
  private inFlight: Promise<void> = Promise.resolve();
  private receivedAt = Date.now();
  private anyKnownColumn = false;
  private trace: string | undefined;

  constructor(
    private readonly o: IngestFileOptions,
    private readonly log: IngestLog<FileState>,
    private readonly file: FileIdentity,
    private readonly reader: RowReader,
    private readonly mapper: RowMapper,
    private readonly limits: { maxMessageBytes: number; totalBytes: number; resumeFrom: number },
    readonly result: IngestFileResult,
  ) {
    this.batch = new IngestBatch(o, limits.maxMessageBytes, 'file-ingest');
    this.firstRow = limits.resumeFrom;
    this.lastRow = limits.resumeFrom - 1;
  }

  /** Reads every row from the resume point, committing a batch whenever it is full, then the rest as complete. */
  async run(): Promise<void> {
    // The file is one span: its records go on as that span's children.
    const span = startSpan('ingest file', {
      kind: SpanKind.PRODUCER,
      attributes: { 'c360.source': this.o.entity.source, 'c360.source_kind': this.o.sourceKind, 'c360.file.sha256': this.file.sha256 },
    });
    this.trace = span && traceparentOf(span);
    try {
      await this.readRows();
    } catch (err) {
      if (span) endSpan(span, err);
      throw err;
    }
    if (span) endSpan(span);
  }

  private async readRows(): Promise<void> {
    const batchRows = this.o.batchRows ?? DEFAULT_BATCH_ROWS;
    try {
      for await (const r of unreadableOnError(this.reader.rows(), this.file.name)) {
        if (r.row < this.limits.resumeFrom) continue;
        await this.take(r);
        if (this.batch.size >= batchRows) {
          await this.commit('running');
          this.receivedAt = Date.now();
        }
      }
    } catch (err) {
      // A file unreadable from some row on: what was read before it (dead letters included) is committed, then the file fails, saying so.
      if (!(err instanceof UnreadableFileError)) throw err;
      await this.commit('running');
      await this.inFlight;
      const { rows, sent, deadLettered } = this.result;
      throw new PartlyIngestedError(this.file.name, { rows, lastRow: this.lastRow, sent, deadLettered }, describeError(err.cause ?? err));
    }
    await this.commit('complete');
    await this.inFlight;
    // Column names are printed only when the file has a real header: otherwise they are its first row's values.
    this.result.unknownColumns = this.anyKnownColumn ? [...this.mapper.unknownColumns] : [];
  }

  /** Lets a transaction still in flight after a failure finish (or fail) before the producer goes. */
  settled(): Promise<void> {
    return this.inFlight.catch(() => undefined);
  }

  private lineageOf(row: number, line: number | undefined): Lineage {
    return {
      ingestId: ingestIdFrom(`${this.file.sha256}/${row}`),
      source: this.o.entity.source,
      sourceKind: this.o.sourceKind,
      receivedAt: this.receivedAt,
      origin: JSON.stringify({ file: this.file.name, sha256: this.file.sha256, row, ...(line !== undefined ? { line } : {}) }),
      ...(this.trace ? { trace: this.trace } : {}),
    };
  }

  private at(row: number) {
    return { topic: `file:${this.file.name}`, offset: row };
  }

  private async deadLetter(row: number, lineage: Lineage, error: RecordErrorEntry, cells: unknown): Promise<void> {
    await this.batch.reject(this.at(row), lineage, error, cells);
    this.result.deadLettered++;
  }

  /** One row into the batch, or to the dead letters with why. */
  private async take(r: FileRow): Promise<void> {
    const { o, result } = this;
    result.rows++;
    this.lastRow = r.row;
    const lineage = this.lineageOf(r.row, r.line);
    const mapped = 'rejected' in r ? ({ ok: false, error: { ...r.rejected, field: null } } as const) : this.mapper.map(r.cells);
    if (mapped.ok) {
      this.anyKnownColumn = true;
      const id = o.entity.naturalId(mapped.value);
      // The entity travels with the row: a source may carry several (commerce: orders and products).
      const message = { key: id || null, value: JSON.stringify(mapped.value), headers: { ...lineageHeaders(lineage), [HEADER.entity]: o.entity.name } };
      if (await this.batch.add(message, lineage, this.at(r.row), mapped.value)) result.sent++;
      else result.deadLettered++;
      return;
    }
    if (mapped.error.code === 'mapping.unknown_columns' && r.row === 1 && o.format.headerRow && 'cells' in r) {
      // Not one header names a field: the "header" was the file's first row of data, so it is counted and dead-lettered too.
      result.rows++;
      await this.deadLetter(0, this.lineageOf(0, 1), mapped.error, Object.keys(r.cells));
    }
    await this.deadLetter(r.row, lineage, mapped.error, 'cells' in r ? r.cells : undefined);
  }

  /** Starts the batch's transaction once the previous one committed; a failure of either surfaces at the next commit or at the end. */
  private async commit(status: FileState['status']): Promise<void> {
    const { o, result, file } = this;
    const state: FileState = {
      kind: 'file',
      source: o.entity.source,
      file: file.name,
      sha256: file.sha256,
      next_row: this.lastRow + 1,
      sent: result.sent,
      dead_lettered: result.deadLettered,
      status,
      updated_at: new Date().toISOString(),
    };
    const topicMessages = this.batch.take(`file:${file.name}`, this.firstRow, this.lastRow, file.key, state);
    const progress: IngestProgress = { rows: result.rows, bytesRead: this.reader.bytesRead(), totalBytes: this.limits.totalBytes };
    this.firstRow = this.lastRow + 1;
    await this.inFlight;
    this.inFlight = this.log.commit(topicMessages).then(() => {
      crashPoint('ingest-after-commit');
      o.onProgress?.(progress);
    });
    // Not unhandled while the next batch is read: it is awaited by the next commit or at the end.
    this.inFlight.catch(() => undefined);
  }
}

async function ingestFileOnce(o: IngestFileOptions): Promise<IngestFileResult> {
  const started = performance.now();
  const name = o.name ?? path.basename(o.file);
  const sha256 = await sha256File(o.file).catch((err: unknown) => {
    throw unreadable(name, err);
  });
  const file: FileIdentity = { name, sha256, key: `file:${o.entity.source}:${sha256}` };
  const transactionalId = `${o.namespace}.ingest.${o.entity.source}.${sha256.slice(0, 24)}`;
  const log = await (o.openLog ?? ((id: string) => kafkaIngestLog<FileState>(o.kafka, o.namespace, id, o.deadLetter.maxMessageBytes)))(transactionalId);
  let run: FileRun | undefined;
  try {
    const previous = await log.position(file.key);
    const result: IngestFileResult = {
      file: o.file,
      name,
      sha256,
      outcome: 'ingested',
      duplicateOf: undefined,
      rows: 0,
      sent: 0,
      deadLettered: 0,
      resumedAt: undefined,
      unknownColumns: [],
      ms: 0,
    };
    if (previous?.status === 'complete' && !o.force) {
      return { ...result, outcome: 'duplicate', duplicateOf: { file: previous.file, at: previous.updated_at }, ms: performance.now() - started };
    }
    const resumeFrom = previous?.status === 'running' && !o.force ? previous.next_row : 1;
    if (resumeFrom > 1) {
      result.outcome = 'resumed';
      result.resumedAt = resumeFrom;
      result.sent = previous!.sent;
      result.deadLettered = previous!.dead_lettered;
    }
    const maxMessageBytes = await log.maxMessageBytes(topicNames(o.namespace).ingest(o.entity.source));
    const mapper = compileMapping(o.entity.schema, o.mapping);
    // Cut off in transfer, a gzip file fails only at its end: checked whole first, it lands nothing rather than its first half.
    if (resumeFrom === 1) await checkGzip(o.file, name);
    const reader = o.format.create(o.file, { delimiter: o.mapping.delimiter, maxRowBytes: o.maxRecordBytes });
    const totalBytes = readingFile(name, () => fs.statSync(o.file).size);
    run = new FileRun(o, log, file, reader, mapper, { maxMessageBytes, totalBytes, resumeFrom }, result);
    await run.run();
    result.ms = performance.now() - started;
    return result;
  } finally {
    await run?.settled();
    await log.close();
  }
}

/** A gzip file read to its end (within the inflation bound), or one sentence on why it cannot be: nothing is sent from it. */
async function checkGzip(file: string, name: string): Promise<void> {
  const { stream, gzip } = readingFile(name, () => openText(file));
  if (!gzip) {
    stream.destroy();
    return;
  }
  try {
    stream.resume();
    await finished(stream);
  } catch (err) {
    throw new UnreadableFileError(`${name} is not a whole gzip file (${describeError(err)}); nothing of it was sent.`, { cause: err });
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
