// The sink's exactly-once core without Kafka: a real local store whose calls fail the way a store
// fails (unavailable for a while, then back), and the files read back from disk. Whatever fails
// and whenever, the committable offset never passes a record that is in no published file, every
// record lands once, and nothing is published twice.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { DependencyRefusedError, DependencyUnavailableError, mayBlameRecord } from '../contracts/errors.js';
import { createLogger } from '../observability/logger.js';
import { LocalStore } from '../storage/local-store.js';
import type { ObjectStore, PutOutcome } from '../storage/object-store.js';
import { FolderLayer } from './folder-layer.js';
import { fileName, parseFileName } from './layout.js';
import { LINEAGE_FIELDS } from './lineage-columns.js';
import { sinkMetrics } from './metrics.js';
import { rotationOptions } from './options.js';
import { fileSchema } from './parquet/parquet-file.js';
import { PartitionSink } from './partition-sink.js';
import type { SinkRecord } from './records.js';

const SCHEMA = { type: 'record', name: 'Event', fields: [{ name: 'id', type: 'string' }] };
const FOLDER = 'raw/source=web/entity=Event/date=2026-12-06';
const compiled = fileSchema(SCHEMA, LINEAGE_FIELDS);

/** A real local store whose chosen calls fail as an unavailable store does, as many times as asked. */
class FlakyStore implements ObjectStore {
  readonly failures = { publishFile: 0, putIfAbsent: 0, list: 0 };
  readonly calls = { publishFile: 0 };
  constructor(private readonly store: LocalStore) {}
  get url() {
    return this.store.url;
  }
  get spoolDir() {
    return this.store.spoolDir;
  }
  private fail(op: keyof FlakyStore['failures']): void {
    if (this.failures[op] > 0) {
      this.failures[op]--;
      throw new DependencyUnavailableError('object-store', `${op} answered 503 (SlowDown)`);
    }
  }
  async publishFile(localPath: string, key: string): Promise<PutOutcome> {
    this.calls.publishFile++;
    this.fail('publishFile');
    return this.store.publishFile(localPath, key);
  }
  async putIfAbsent(key: string, body: Buffer): Promise<PutOutcome> {
    this.fail('putIfAbsent');
    return this.store.putIfAbsent(key, body);
  }
  async list(prefix: string): Promise<string[]> {
    this.fail('list');
    return this.store.list(prefix);
  }
  listModified(prefix: string) {
    return this.store.listModified(prefix);
  }
  remove(key: string) {
    return this.store.remove(key);
  }
  read(key: string) {
    return this.store.read(key);
  }
  check() {
    return this.store.check();
  }
  locate(key: string) {
    return this.store.locate(key);
  }
  close() {}
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function setUp(rotation: Record<string, number>) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-partition-sink-'));
  dirs.push(root);
  const store = new FlakyStore(new LocalStore(root, undefined));
  const spoolDir = path.join(root, '_spool', 'worker');
  fs.mkdirSync(spoolDir, { recursive: true });
  const sink = new PartitionSink('ns.raw.web', 0, {
    layer: new FolderLayer(store, () => compiled),
    spoolDir,
    rotation: rotationOptions(rotation),
    metrics: sinkMetrics(new Registry()),
    logger: createLogger('silent'),
    rewind: () => {
      throw new Error('a folder layer never asks to read again');
    },
  });
  return { root, store, sink };
}

function record(offset: number): SinkRecord {
  return {
    kind: 'raw',
    source: 'web',
    entity: 'Event',
    folder: FOLDER,
    target: FOLDER,
    schemaId: 1,
    schema: SCHEMA,
    value: { id: `e-${offset}` },
    lineage: {
      _key: null,
      _ingest_id: `i-${offset}`,
      _source: 'web',
      _source_kind: 'stream',
      _received_at: Date.UTC(2026, 11, 6, 12),
      _origin: null,
      _quality_flags: [],
      _near_duplicate: false,
      _topic: 'ns.raw.web',
      _partition: 0,
      _offset: offset,
    },
    receivedAt: Date.UTC(2026, 11, 6, 12),
    bytes: 10,
  };
}

/** What the worker does with each record: settle what storage left undone, then hand the record over; each retried while it fails. */
async function feed(sink: PartitionSink, offsets: number[]): Promise<number> {
  let retries = 0;
  const untilDone = async (run: () => Promise<void>) => {
    for (;;) {
      try {
        return await run();
      } catch (err) {
        if (!(err instanceof DependencyUnavailableError)) throw err;
        retries++;
      }
    }
  };
  for (const offset of offsets) {
    await untilDone(() => sink.settle());
    await untilDone(() => sink.append(offset, record(offset)));
  }
  await untilDone(() => sink.settle());
  return retries;
}

/** Every id in the published files of the folder, with the files' offset ranges. */
async function landed(root: string): Promise<{ ids: string[]; files: string[] }> {
  const folder = path.join(root, ...FOLDER.split('/'));
  const files = fs.existsSync(folder)
    ? fs
        .readdirSync(folder)
        .filter((f) => f.endsWith('.parquet'))
        .sort()
    : [];
  const ids: string[] = [];
  for (const f of files) {
    const bytes = fs.readFileSync(path.join(folder, f));
    const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer, columns: ['id'] });
    ids.push(...rows.map((r) => String(r.id)));
  }
  return { ids, files };
}

describe('PartitionSink', () => {
  it('keeps a file the store failed to take and publishes it again: committable never passes its records', async () => {
    const { root, store, sink } = setUp({ maxRecords: 2 });
    store.failures.publishFile = 1;
    await sink.settle();
    await sink.append(0, record(0));
    await sink.append(1, record(1));
    // Offset 2 rotates the file of 0–1 out; the store fails it at the next settle.
    await sink.append(2, record(2));
    await expect(sink.settle()).rejects.toThrow('publishFile answered 503');
    expect(sink.unsettled).toBe(true);
    expect(sink.committable()).toBe(0);
    await sink.settle();
    expect(sink.committable()).toBe(2);
    await sink.append(3, record(3));
    await sink.flushAll();
    expect(sink.committable()).toBe(4);
    const { ids, files } = await landed(root);
    expect(ids).toEqual(['e-0', 'e-1', 'e-2', 'e-3']);
    expect(files.map((f) => [parseFileName(f)!.firstOffset, parseFileName(f)!.lastOffset])).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(fs.readdirSync(path.join(root, ...FOLDER.split('/'), '_manifest'))).toHaveLength(2);
  });

  it('an idle flush the store fails leaves the file owned, published at the next attempt', async () => {
    const { root, store, sink } = setUp({ idleFlushMs: 100 });
    await sink.append(0, record(0));
    await sink.append(1, record(1));
    store.failures.publishFile = 2;
    await expect(sink.flushIdle(Date.now() + 1_000)).rejects.toThrow('503');
    await expect(sink.flushIdle(Date.now() + 1_000)).rejects.toThrow('503');
    expect(sink.committable()).toBe(0);
    await sink.flushIdle(Date.now() + 1_000);
    expect(sink.committable()).toBe(2);
    expect((await landed(root)).ids).toEqual(['e-0', 'e-1']);
  });

  it('a manifest entry the store failed to take is written again, the file is not published twice', async () => {
    const { root, store, sink } = setUp({ maxRecords: 1 });
    store.failures.putIfAbsent = 3;
    const retries = await feed(sink, [0, 1, 2]);
    await feed(sink, []);
    await sink.flushAll();
    expect(retries).toBe(3);
    expect(store.calls.publishFile).toBe(3);
    expect((await landed(root)).ids).toEqual(['e-0', 'e-1', 'e-2']);
    expect(fs.readdirSync(path.join(root, ...FOLDER.split('/'), '_manifest'))).toHaveLength(3);
  });

  it('with every call failing half the time, lands 500 records once each, in files that never overlap', async () => {
    const { root, store, sink } = setUp({ maxRecords: 7 });
    let n = 7;
    let injected = 0;
    const flaky = () => {
      n = (n * 1103515245 + 12345) % 2 ** 31;
      const fail = ((n >> 16) & 1) === 1;
      if (fail) injected++;
      return fail;
    };
    const offsets = Array.from({ length: 500 }, (_, i) => i);
    const original = { publishFile: store.publishFile.bind(store), putIfAbsent: store.putIfAbsent.bind(store), list: store.list.bind(store) };
    store.publishFile = async (p, k) => {
      if (flaky()) throw new DependencyUnavailableError('object-store', 'connect ECONNREFUSED');
      return original.publishFile(p, k);
    };
    store.putIfAbsent = async (k, b) => {
      if (flaky()) throw new DependencyUnavailableError('object-store', 'read ECONNRESET');
      return original.putIfAbsent(k, b);
    };
    store.list = async (p) => {
      if (flaky()) throw new DependencyUnavailableError('object-store', 'socket timed out');
      return original.list(p);
    };
    await feed(sink, offsets);
    for (;;) {
      try {
        await sink.flushAll();
        break;
      } catch {
        // the store fails again: the files stay owned
      }
    }
    expect(injected).toBeGreaterThan(50);
    expect(sink.committable()).toBe(500);
    const { ids, files } = await landed(root);
    expect(ids).toEqual(offsets.map((o) => `e-${o}`));
    const ranges = files.map((f) => parseFileName(f)!);
    expect(ranges.map((r) => r.firstOffset)).toEqual([0, ...ranges.slice(0, -1).map((r) => r.lastOffset + 1)]);
  });

  it('a partition read again from its committed offset after a failure lands nothing twice', async () => {
    const { root, store, sink } = setUp({ maxRecords: 3 });
    await feed(sink, [0, 1, 2, 3, 4]);
    // The file of 3–4 is open; the store fails the one being rotated out at 5, then the partition is read again from 3.
    store.failures.publishFile = 1;
    await sink.append(5, record(5));
    await sink.append(6, record(6));
    await expect(sink.settle()).rejects.toThrow('503');
    expect(sink.committable()).toBe(3);
    await feed(sink, [3, 4, 5, 6, 7]);
    await sink.flushAll();
    expect((await landed(root)).ids).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((o) => `e-${o}`));
  });

  it('after an upload that landed but reported a failure, a re-read partition skips what landed', async () => {
    const { root, store, sink } = setUp({ maxRecords: 2 });
    const publish = store.publishFile.bind(store);
    let lie = 1;
    store.publishFile = async (p, k) => {
      const outcome = await publish(p, k);
      if (lie-- > 0) throw new DependencyUnavailableError('object-store', 'the request socket timed out');
      return outcome;
    };
    await sink.append(0, record(0));
    await sink.append(1, record(1));
    await sink.append(2, record(2));
    await expect(sink.settle()).rejects.toThrow('timed out');
    // The partition is revoked and comes back from its committed offset (0), with an idle flush cutting files elsewhere.
    sink.discard();
    await feed(sink, [0, 1, 2]);
    await sink.flushAll();
    expect((await landed(root)).ids).toEqual(['e-0', 'e-1', 'e-2']);
  });

  it('a file under its partition name that is not Parquet it can read is the store to fix: the record is not blamed', async () => {
    const { root, sink } = setUp({});
    const folder = path.join(root, ...FOLDER.split('/'));
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, fileName({ topic: 'ns.raw.web', partition: 0, firstOffset: 0, lastOffset: 4 })), 'not parquet');
    const error = await sink.append(5, record(5)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(DependencyRefusedError);
    expect((error as Error).message).toMatch(/ is not a Parquet file c360 can read \(.+\); move it out of the layer$/);
    expect(mayBlameRecord(error)).toBe(false);
  });
});
