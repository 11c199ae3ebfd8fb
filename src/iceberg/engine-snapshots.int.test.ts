// A table another engine commits to between the sink's commits: Iceberg's own Java client joins the
// manifests (what Spark's rewrite_manifests does) under a snapshot id of its choosing, a random
// 63-bit one that a JavaScript number cannot hold exactly. A real `c360 sink` process goes on
// committing on top of it, and c360's table tools read and maintain the table, every id exact.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engineRewritesManifests, readTable, TABLE_ENV, tableConfig } from '../../test/support/iceberg.js';
import { eventually, testKafka } from '../../test/support/kafka.js';
import { produce, rawCrmTopic } from '../../test/support/topology.js';
import { runCli, spawnSink, type Worker } from '../../test/support/worker.js';
import { RestCatalog } from './rest-catalog.js';
import { mainSnapshot } from './table-metadata.js';

const kafka = testKafka();
const catalog = new RestCatalog(tableConfig.catalog!);

describe('a table another engine commits to, under snapshot ids beyond 2^53', () => {
  let sink: Worker | undefined;
  const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-engine-'));
  afterAll(() => {
    sink?.child.kill('SIGKILL');
    fs.rmSync(spool, { recursive: true, force: true });
  });

  it('commits on top of the engine’s snapshot, reads the table at it, and maintains it', async () => {
    const { namespace: ns, topic, messages } = await rawCrmTopic(kafka);
    const rows = async () => {
      const loaded = await catalog.loadTable(ns, 'raw_crm');
      return Number((loaded && mainSnapshot(loaded.metadata)?.summary['total-records']) ?? 0);
    };
    await produce(kafka, topic, messages(0, 300));
    sink = spawnSink(ns, spool, { ...TABLE_ENV, LOG_LEVEL: 'warn' }, ['--max-records', '100', '--idle-flush-ms', '300']);
    expect(await eventually(rows, (n) => n >= 300, 90_000), sink.output().slice(-2_000)).toBe(300);

    const engine = await engineRewritesManifests(ns, 'raw_crm');
    expect(typeof engine).toBe('bigint');
    await produce(kafka, topic, messages(300, 200));
    expect(await eventually(rows, (n) => n >= 500, 90_000), sink.output().slice(-2_000)).toBe(500);

    const table = await readTable(ns, 'raw_crm');
    expect(table.rows).toHaveLength(500);
    expect(new Set(table.rows.map((r) => r._ingest_id)).size).toBe(500);
    // The sink's next commit names the engine's snapshot as its parent, to the last digit.
    const after = table.snapshots.filter((s) => s.parent === engine);
    expect(after).toHaveLength(1);
    expect(table.snapshots.find((s) => s.id === engine)!.operation).toBe('replace');
    expect(sink.output()).not.toMatch(/beyond 2\^53|precision|not an Avro container file/);

    const atEngine = await runCli(['raw', 'read', '-n', ns, '--source', 'crm', '--snapshot', String(engine)], TABLE_ENV);
    expect(atEngine.code, atEngine.output).toBe(0);
    expect(atEngine.stdout.trim().split('\n')).toHaveLength(300);

    sink.child.kill('SIGTERM');
    expect(await sink.exited).toMatchObject({ code: 0 });
    const maintain = await runCli(['table', 'maintain', '-n', ns, '--retain-days', '0', '--retain-last', '1', '--json'], TABLE_ENV);
    expect(maintain.code, maintain.output).toBe(0);
    const maintained = await readTable(ns, 'raw_crm');
    expect(maintained.rows.map((r) => r._ingest_id).sort()).toEqual(table.rows.map((r) => r._ingest_id).sort());
    expect(maintained.snapshots.map((s) => s.id)).not.toContain(engine);
  }, 300_000);
});
