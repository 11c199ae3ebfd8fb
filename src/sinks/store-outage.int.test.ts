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
import type { Message } from 'kafkajs';
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

const FAULTS: FaultMode[] = ['503', 'reset', 'refuse', 'hang', '503', 'reset', 'refuse', 'hang'];
/** The records produced before the faults begin; the rest arrive one share per fault. */
const BEFORE_FAULTS = 600;
const PER_FAULT = (RECORDS - BEFORE_FAULTS) / FAULTS.length;

/**
 * Faults a few seconds at a time, each kind twice, taking the proxies in turn. Each fault begins
 * before its share of the records is produced, so the sink meets it whether or not it finished
 * the earlier ones.
 */
async function faultCycle(proxies: FaultProxy[], feed: (from: number, n: number) => Promise<void>): Promise<void> {
  for (const [i, mode] of FAULTS.entries()) {
    const proxy = proxies[i % proxies.length]!;
    await sleep(1_500);
    await proxy.set(mode);
    await feed(BEFORE_FAULTS + i * PER_FAULT, PER_FAULT);
    await sleep(3_000);
    await proxy.set('pass');
  }
}

/**
 * What both layers go through: faults by turns while the records land (each proxy faulted at least
 * `minFaults` times), then every record once and no lag; more records while `hanging` hangs and a
 * stop that ends within its timeouts; then a new sink lands what the stopped one could not, once.
 * `landed` waits until at least that many records are in the layer and returns their ingest ids.
 */
async function outageScenario(o: {
  ns: string;
  raw: string;
  messages: (from: number, n: number) => Message[];
  proxies: FaultProxy[];
  hanging: FaultProxy;
  minFaults: number;
  spawn: () => Worker;
  sinks: Worker[];
  landed: (records: number) => Promise<string[]>;
}): Promise<void> {
  const landsOnce = async (records: number) => {
    const ids = await o.landed(records);
    expect(ids.length, o.sinks.at(-1)!.output().slice(-4_000)).toBe(records);
    expect(new Set(ids).size).toBe(records);
    expect(
      await eventually(
        () => groupLag(topicNames(o.ns).sinkGroup, o.raw),
        (lag) => lag === 0,
        30_000,
      ),
    ).toBe(0);
  };
  o.sinks.push(o.spawn());
  // The faults begin once the sink works through every proxy, however long its start takes.
  expect(
    await eventually(
      async () => o.proxies.every((p) => p.accepted.pass > 0),
      (working) => working,
      60_000,
    ),
    o.sinks[0]!.output().slice(-2_000),
  ).toBe(true);
  await faultCycle(o.proxies, (from, n) => produce(kafka, o.raw, o.messages(from, n)));
  for (const p of o.proxies) expect(Object.values(p.accepted).reduce((a, b) => a + b, 0) - p.accepted.pass).toBeGreaterThan(o.minFaults);
  await landsOnce(RECORDS);
  const first = o.sinks[0]!;
  expect(first.output()).not.toMatch(/uncaught|ERR_OUT_OF_RANGE|record set aside/i);
  expect(first.child.exitCode).toBeNull();

  await o.hanging.set('hang');
  await produce(kafka, o.raw, o.messages(RECORDS, 200));
  await sleep(2_000);
  const stopping = Date.now();
  first.child.kill('SIGTERM');
  const exit = await Promise.race([first.exited, sleep(30_000, 'still running' as const)]);
  expect(exit, first.output().slice(-2_000)).toEqual({ code: 0, signal: null });
  expect(Date.now() - stopping).toBeLessThan(30_000);

  await o.hanging.set('pass');
  o.sinks.push(o.spawn());
  await landsOnce(RECORDS + 200);
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
    await produce(kafka, raw, messages(0, BEFORE_FAULTS));
    proxy = await startFaultProxy({ host: s3.hostname, port: Number(s3.port) });
    const storage = `s3://${S3_BUCKET}/${ns}`;
    const env = { C360_S3_ENDPOINT: proxy.url, C360_S3_FORCE_PATH_STYLE: 'true', C360_S3_TIMEOUT_MS: '2000', LOG_LEVEL: 'warn' };
    const store = new S3Store({ bucket: S3_BUCKET, prefix: ns, spoolDir: undefined, s3: { endpoint: S3_URL, forcePathStyle: true, timeoutMs: 30_000 } });
    await outageScenario({
      ns,
      raw,
      messages,
      proxies: [proxy],
      hanging: proxy,
      minFaults: 8,
      spawn: () => spawnSink(ns, storage, env, ['--max-records', '25', '--idle-flush-ms', '300']),
      sinks,
      // The files of a partition never overlap, too.
      landed: async (records) => {
        const { ids, overlaps } = await eventually(
          () => landed(store),
          (l) => l.ids.length >= records,
          90_000,
        );
        expect(overlaps).toBe(0);
        return ids;
      },
    });
  }, 360_000);
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
    await produce(kafka, raw, messages(0, BEFORE_FAULTS));
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
    const catalog = new RestCatalog(tableConfig.catalog!);
    await outageScenario({
      ns,
      raw,
      messages,
      proxies,
      hanging: catalogProxy,
      minFaults: 3,
      // Files of 100 records: each is a commit, and a table's commit writes three objects and asks the catalog twice.
      spawn: () => spawnSink(ns, spool, env, ['--max-records', '100', '--idle-flush-ms', '300']),
      sinks,
      landed: async (records) => {
        await eventually(
          async () => {
            const loaded = await catalog.loadTable(ns, 'raw_crm');
            return Number((loaded && mainSnapshot(loaded.metadata)?.summary['total-records']) ?? 0);
          },
          (n) => n >= records,
          90_000,
        );
        return (await readTable(ns, 'raw_crm')).rows.map((r) => String(r._ingest_id));
      },
    });
  }, 360_000);
});
