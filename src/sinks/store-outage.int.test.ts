// A sink landing many small files while its object store keeps failing: S3Mock behind a proxy that
// answers 503, resets connections, refuses them (nothing listens) and stops answering, a few
// seconds at a time. A real `c360 sink` process, real Kafka, real S3 calls. Afterwards the raw
// layer holds every record of the topic once, the group has no lag, and a sink told to stop while
// the store hangs stops within its timeouts.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG_URL } from '../../dev/stack/catalog.js';
import { S3_URL } from '../../dev/stack/s3.js';
import { S3_BUCKET } from '../../dev/stack/versions.js';
import { type FaultMode, type FaultProxy, startFaultProxy } from '../../test/support/fault-proxy.js';
import { readTable, TABLE_ENV, tableConfig } from '../../test/support/iceberg.js';
import { eventually, testKafka } from '../../test/support/kafka.js';
import { produce, rawCrmTopic } from '../../test/support/topology.js';
import { spawnSink, type Worker } from '../../test/support/worker.js';
import { topicNames } from '../contracts/topic-names.js';
import { RestCatalog } from '../iceberg/rest-catalog.js';
import { mainSnapshot } from '../iceberg/table-metadata.js';
import { S3Store } from '../storage/s3-store.js';
import { parseFileName } from './layout.js';

process.env.AWS_ACCESS_KEY_ID ??= 'c360-test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'c360-test';

const kafka = testKafka();
const s3 = new URL(S3_URL);
const RECORDS = 3_000;

/** What landed under the prefix: every raw file's ingest ids, and the offset ranges of the files per partition. */
async function landed(store: S3Store): Promise<{ ids: string[]; overlaps: number }> {
  const keys = (await store.list('raw/')).filter((k) => k.endsWith('.parquet'));
  const ids: string[] = [];
  const ranges = new Map<number, Array<[number, number]>>();
  for (const key of keys) {
    const bytes = await store.read(key);
    for (const r of await parquetReadObjects({ file: new Uint8Array(bytes).buffer, columns: ['_ingest_id'] })) ids.push(String(r._ingest_id));
    const id = parseFileName(key)!;
    ranges.set(id.partition, [...(ranges.get(id.partition) ?? []), [id.firstOffset, id.lastOffset]]);
  }
  let overlaps = 0;
  for (const list of ranges.values()) {
    list.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < list.length; i++) if (list[i]![0] <= list[i - 1]![1]) overlaps++;
  }
  return { ids, overlaps };
}

async function groupLag(group: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    return ends.reduce((lag, p) => {
      const c = Number(committed!.partitions.find((x) => x.partition === p.partition)?.offset ?? -1);
      return lag + Number(p.high) - Math.max(c, 0);
    }, 0);
  } finally {
    await admin.disconnect();
  }
}

/** Faults a few seconds at a time, each kind twice, taking the proxies in turn. */
async function faultCycle(proxies: FaultProxy[]): Promise<void> {
  const cycle: FaultMode[] = ['503', 'reset', 'refuse', 'hang', '503', 'reset', 'refuse', 'hang'];
  for (const [i, mode] of cycle.entries()) {
    const proxy = proxies[i % proxies.length]!;
    await sleep(1_500);
    await proxy.set(mode);
    await sleep(3_000);
    await proxy.set('pass');
  }
}

describe('a sink whose object store keeps failing', () => {
  let proxy: FaultProxy;
  const sinks: Worker[] = [];
  afterAll(async () => {
    for (const s of sinks) s.child.kill('SIGKILL');
    await proxy?.close();
  });

  it('lands every record once across 503s, resets, refused connections and a store that stops answering; stops within its timeouts', async () => {
    const { namespace: ns, topic: raw, messages } = await rawCrmTopic(kafka);
    await produce(kafka, raw, messages(0, RECORDS));

    proxy = await startFaultProxy({ host: s3.hostname, port: Number(s3.port) });
    const storage = `s3://${S3_BUCKET}/${ns}`;
    const env = { C360_S3_ENDPOINT: proxy.url, C360_S3_FORCE_PATH_STYLE: 'true', C360_S3_TIMEOUT_MS: '2000', LOG_LEVEL: 'warn' };
    const args = ['--max-records', '25', '--idle-flush-ms', '300'];
    sinks.push(spawnSink(ns, storage, env, args));
    /** Every record of the topic in the layer once, in files that never overlap, and no lag left. */
    const landsOnce = async (records: number) => {
      const { ids, overlaps } = await eventually(
        () => landed(store),
        (l) => l.ids.length >= records,
        90_000,
      );
      expect(ids.length).toBe(records);
      expect(new Set(ids).size).toBe(records);
      expect(overlaps).toBe(0);
      expect(
        await eventually(
          () => groupLag(topicNames(ns).sinkGroup, raw),
          (lag) => lag === 0,
          30_000,
        ),
      ).toBe(0);
    };
    const store = new S3Store({ bucket: S3_BUCKET, prefix: ns, spoolDir: undefined, s3: { endpoint: S3_URL, forcePathStyle: true, timeoutMs: 30_000 } });

    await faultCycle([proxy]);
    expect(Object.values(proxy.accepted).reduce((a, b) => a + b, 0) - proxy.accepted.pass).toBeGreaterThan(8);
    await landsOnce(RECORDS);
    expect(sinks[0]!.output()).not.toMatch(/uncaught|ERR_OUT_OF_RANGE|record set aside/i);
    expect(sinks[0]!.child.exitCode).toBeNull();

    // More records while the store hangs, and a stop: the sink gives up its open files within its timeouts and exits 0.
    await proxy.set('hang');
    await produce(kafka, raw, messages(RECORDS, 200));
    await sleep(2_000);
    const stopping = Date.now();
    sinks[0]!.child.kill('SIGTERM');
    const exit = await Promise.race([sinks[0]!.exited, sleep(30_000, 'still running' as const)]);
    expect(exit, sinks[0]!.output().slice(-2_000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopping).toBeLessThan(30_000);

    // The next sink lands what the stopped one could not, once.
    await proxy.set('pass');
    sinks.push(spawnSink(ns, storage, env, args));
    await landsOnce(RECORDS + 200);
  });
});

describe('a table sink whose object store and catalog keep failing', () => {
  const proxies: FaultProxy[] = [];
  const sinks: Worker[] = [];
  let spool: string;
  afterAll(async () => {
    for (const s of sinks) s.child.kill('SIGKILL');
    for (const p of proxies) await p.close();
    if (spool) fs.rmSync(spool, { recursive: true, force: true });
  });

  it('commits every record once across 503s, resets, refused connections and hangs of either; stops within its timeouts', async () => {
    const { namespace: ns, topic: raw, messages } = await rawCrmTopic(kafka);
    await produce(kafka, raw, messages(0, RECORDS));
    const catalogUrl = new URL(CATALOG_URL);
    proxies.push(
      await startFaultProxy({ host: s3.hostname, port: Number(s3.port) }),
      await startFaultProxy({ host: catalogUrl.hostname, port: Number(catalogUrl.port) }),
    );
    const [s3Proxy, catalogProxy] = proxies as [FaultProxy, FaultProxy];
    spool = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-table-outage-'));
    const env = {
      ...TABLE_ENV,
      C360_S3_ENDPOINT: s3Proxy.url,
      C360_CATALOG_URL: catalogProxy.url,
      C360_S3_TIMEOUT_MS: '2000',
      C360_CATALOG_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'warn',
    };
    // Files of 100 records: each is a commit, and a table's commit writes three objects and asks the catalog twice.
    const args = ['--max-records', '100', '--idle-flush-ms', '300'];
    const catalog = new RestCatalog(tableConfig.catalog!);
    /** Every record of the topic in the table once, and no lag left. */
    const landsOnce = async (records: number) => {
      await eventually(
        async () => {
          const loaded = await catalog.loadTable(ns, 'raw_crm');
          return Number((loaded && mainSnapshot(loaded.metadata)?.summary['total-records']) ?? 0);
        },
        (n) => n >= records,
        90_000,
      );
      const ids = (await readTable(ns, 'raw_crm')).rows.map((r) => r._ingest_id);
      expect(ids.length, sinks.at(-1)!.output().slice(-4000)).toBe(records);
      expect(new Set(ids).size).toBe(records);
      expect(
        await eventually(
          () => groupLag(topicNames(ns).sinkGroup, raw),
          (lag) => lag === 0,
          30_000,
        ),
      ).toBe(0);
    };
    sinks.push(spawnSink(ns, spool, env, args));
    await faultCycle(proxies);
    for (const p of proxies) expect(Object.values(p.accepted).reduce((a, b) => a + b, 0) - p.accepted.pass).toBeGreaterThan(3);
    await landsOnce(RECORDS);
    expect(sinks[0]!.output()).not.toMatch(/uncaught|record set aside/i);
    expect(sinks[0]!.child.exitCode).toBeNull();

    // More records while the catalog hangs, and a stop: the sink gives up its open files within its timeouts and exits 0.
    await catalogProxy.set('hang');
    await produce(kafka, raw, messages(RECORDS, 200));
    await sleep(2_000);
    const stopping = Date.now();
    sinks[0]!.child.kill('SIGTERM');
    const exit = await Promise.race([sinks[0]!.exited, sleep(30_000, 'still running' as const)]);
    expect(exit, sinks[0]!.output().slice(-2_000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopping).toBeLessThan(30_000);

    await catalogProxy.set('pass');
    sinks.push(spawnSink(ns, spool, env, args));
    await landsOnce(RECORDS + 200);
  }, 360_000);
});
