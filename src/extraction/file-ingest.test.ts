// The file ingest's exactly-once core without Kafka: its rows and positions go to a log that keeps
// transactions as Kafka does (all of one or none) and fails them as Kafka can — an aborted
// transaction, a commit whose acknowledgement is lost, a process killed between two. Whatever
// fails, every row of the file is committed once, and a file cut off in transfer commits nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Kafka, Message, TopicMessages } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { offlineContext } from '../../test/support/stages.js';
import { DependencyUnavailableError } from '../contracts/errors.js';
import { topicNames } from '../contracts/topic-names.js';
import { loadSchema } from '../schema/avro.js';
import { LocalStore } from '../storage/local-store.js';
import { type FileState, type IngestFileResult, ingestFile } from './file-ingest.js';
import type { IngestLog } from './ingest-batch.js';
import { csvFormat } from './readers/csv.js';

const names = topicNames('unit');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-file-ingest-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Fault = 'abort' | 'lost-ack' | 'killed';

/** Transactions as Kafka keeps them: a failed one leaves nothing, a committed one everything; the position is the last state message of a key. */
class TransactionLog implements IngestLog<FileState> {
  readonly topics = new Map<string, Message[]>();
  /** What the next commits do, in order; a commit with no fault succeeds. */
  readonly faults: Array<Fault | undefined> = [];
  commits = 0;

  async position(key: string): Promise<FileState | undefined> {
    const states = (this.topics.get(names.connectorState) ?? []).filter((m) => m.key === key);
    const last = states.at(-1);
    return last ? (JSON.parse(String(last.value)) as FileState) : undefined;
  }

  async maxMessageBytes(): Promise<number> {
    return 1_048_588;
  }

  async commit(topicMessages: TopicMessages[]): Promise<void> {
    const fault = this.faults.shift();
    if (fault === 'abort') throw new DependencyUnavailableError('kafka', 'the transaction was aborted: its coordinator moved');
    this.commits++;
    for (const t of topicMessages) this.topics.set(t.topic, [...(this.topics.get(t.topic) ?? []), ...t.messages]);
    if (fault === 'lost-ack') throw new DependencyUnavailableError('kafka', 'the commit was not acknowledged');
    if (fault === 'killed') throw new Error('the process was killed after this commit');
  }

  async close(): Promise<void> {}

  /** The ids of the rows the ingest topic holds, in order. */
  ids(): string[] {
    return (this.topics.get(names.ingest('commerce')) ?? []).map((m) => String(m.key));
  }
}

const HEADER = 'transaction_id,channel,occurred_at,currency,total_amount\n';
const rows = (n: number) => Array.from({ length: n }, (_, i) => `F-${i + 1},POS,2026-11-21T12:00:00Z,EUR,${i + 1}.00`).join('\n');
const ctx = offlineContext();
const commerce = ctx.entitiesOfSource.get('commerce')![0]!;
const deadLetter = { id: 1, ...loadSchema('DeadLetter'), maxMessageBytes: 1_048_588 };

function ingest(file: string, log: TransactionLog): Promise<IngestFileResult> {
  return ingestFile({
    // No Kafka: the transaction log above stands in for it.
    kafka: undefined as unknown as Kafka,
    openLog: async () => log,
    namespace: 'unit',
    entity: commerce,
    file,
    format: csvFormat,
    mapping: { columns: {}, formats: {}, ignore: [] },
    sourceKind: 'batch',
    deadLetter,
    maxRecordBytes: 1_048_576,
    store: new LocalStore(dir, undefined),
    batchRows: 10,
  });
}

function file(name: string, body: string | Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, body);
  return f;
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => `F-${i + 1}`);

describe('ingestFile, exactly once', () => {
  it('commits every row once with its position, and the same bytes again are a duplicate that commits nothing', async () => {
    const log = new TransactionLog();
    const f = file('a.csv', HEADER + rows(25));
    expect(await ingest(f, log)).toMatchObject({ outcome: 'ingested', rows: 25, sent: 25, deadLettered: 0 });
    expect(log.ids()).toEqual(expected(25));
    expect(log.commits).toBe(3);
    const again = await ingest(file('b.csv', HEADER + rows(25)), log);
    expect(again).toMatchObject({ outcome: 'duplicate', duplicateOf: { file: 'a.csv' }, sent: 0 });
    expect(log.commits).toBe(3);
  });

  it('an aborted transaction is sent again from the last committed position', async () => {
    const log = new TransactionLog();
    log.faults.push(undefined, 'abort');
    expect(await ingest(file('c.csv', HEADER + rows(25)), log)).toMatchObject({ outcome: 'resumed', resumedAt: 11, sent: 25 });
    expect(log.ids()).toEqual(expected(25));
  });

  it('a commit whose acknowledgement is lost is not sent again: the position it committed says where to go on', async () => {
    const log = new TransactionLog();
    log.faults.push(undefined, 'lost-ack');
    expect(await ingest(file('d.csv', HEADER + rows(25)), log)).toMatchObject({ outcome: 'resumed', resumedAt: 21, sent: 25 });
    expect(log.ids()).toEqual(expected(25));
  });

  it('a process killed between two transactions resumes after the last one, and the file ends complete', async () => {
    const log = new TransactionLog();
    log.faults.push(undefined, 'killed');
    const f = file('e.csv', HEADER + rows(25));
    await expect(ingest(f, log)).rejects.toThrow('killed');
    expect(await log.position([...new Set((log.topics.get(names.connectorState) ?? []).map((m) => String(m.key)))][0]!)).toMatchObject({
      next_row: 21,
      status: 'running',
    });
    expect(await ingest(f, log)).toMatchObject({ outcome: 'resumed', resumedAt: 21, rows: 5, sent: 25 });
    expect(log.ids()).toEqual(expected(25));
    expect((await ingest(f, log)).outcome).toBe('duplicate');
  });

  it('a gzip file cut off in transfer commits nothing', async () => {
    const log = new TransactionLog();
    const whole = zlib.gzipSync(HEADER + rows(2_000));
    const cut = file('f.csv.gz', whole.subarray(0, Math.floor(whole.length / 2)));
    await expect(ingest(cut, log)).rejects.toThrow('f.csv.gz is not a whole gzip file (unexpected end of file); nothing of it was sent.');
    expect(log.commits).toBe(0);
  });
});
