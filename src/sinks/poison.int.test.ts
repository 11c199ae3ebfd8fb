// A raw record the sink cannot store: framed with the Transaction schema, its amount's bytes hold
// 10^20, which decodes but fits no decimal(12,2) column. Before containment, converting the row
// group threw at every retry and the partition never moved; now the record is set aside into
// quarantine with stage.internal_error and the records around it land once. A real sink process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { transaction } from '../../test/fixtures/records.js';
import { config, eventually, testKafka } from '../../test/support/kafka.js';
import { produce, testNamespace } from '../../test/support/topology.js';
import { spawnSink } from '../../test/support/worker.js';
import { frame } from '../contracts/framing.js';
import { HEADER } from '../contracts/lineage.js';
import { topicNames } from '../contracts/topic-names.js';
import { readQuarantine } from '../quarantine/store.js';
import { loadSchema, parseType } from '../schema/avro.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';
import { LocalStore } from '../storage/local-store.js';
import { loadTopology } from '../topology/load.js';
import { createTopologyTopics } from '../topology/setup.js';
import { folderFiles } from './layer-files.js';

const kafka = testKafka();
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-sink-poison-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function rawRows(): Promise<number> {
  let rows = 0;
  for (const key of await new LocalStore(root, undefined).list('raw/')) {
    if (key.endsWith('.parquet')) rows += Number((await parquetMetadataAsync(await asyncBufferFromFile(path.join(root, key)))).num_rows);
  }
  return rows;
}

describe('a raw record the sink cannot store', () => {
  it('is set aside into quarantine with stage.internal_error, and the records around it land once', async () => {
    const ns = testNamespace();
    await createTopologyTopics(kafka, await loadTopology('customer360', { namespace: ns }), config.topics);
    const { schema, type } = loadSchema('Transaction');
    const id = await registerAvro(createSchemaRegistry(config), `${ns}.plain-Transaction`, schema);
    const wide = structuredClone(schema) as { fields: Array<{ name: string; type: unknown }> };
    wide.fields.find((f) => f.name === 'total_amount')!.type = { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 2 };
    const order = (txId: string, amount: string) => ({
      ...transaction,
      transaction_id: txId,
      occurred_at: Date.UTC(2026, 10, 21),
      line_items: [],
      total_amount: amount,
    });
    const headers = (n: number) => ({ [HEADER.ingestId]: `id-${n}`, [HEADER.source]: 'commerce', [HEADER.receivedAt]: '2026-11-27T10:00:00.000Z' });
    await produce(kafka, topicNames(ns).raw('commerce'), [
      { key: 'T-before', value: frame(id, type.toBuffer(order('T-before', '1.00'))), headers: headers(1), partition: 0 },
      // The same bytes a decimal(38,2) writes, under the decimal(12,2) schema's id.
      { key: 'T-pill', value: frame(id, parseType(wide).toBuffer(order('T-pill', '100000000000000000000.00'))), headers: headers(2), partition: 0 },
      { key: 'T-after', value: frame(id, type.toBuffer(order('T-after', '2.00'))), headers: headers(3), partition: 0 },
    ]);

    const sink = spawnSink(ns, root, { LOG_LEVEL: 'info' }, ['--idle-flush-ms', '200']);
    try {
      const store = new LocalStore(root, undefined);
      const quarantined = await eventually(
        async () => {
          const found = [];
          for await (const r of readQuarantine(folderFiles(store))) found.push(r);
          return found;
        },
        (found) => found.length >= 1,
        60_000,
      );
      expect(quarantined.map((r) => [r.stage, r.errors.map((e) => e.code), r.origin.offset])).toEqual([['sink', ['stage.internal_error'], 1]]);
      expect(await eventually(rawRows, (n) => n >= 2, 30_000)).toBe(2);
      const line = sink
        .output()
        .split('\n')
        .find((l) => l.includes('set aside into quarantine'));
      expect(JSON.parse(line!)).toMatchObject({ level: 'warn', topic: topicNames(ns).raw('commerce'), offset: '1' });
    } finally {
      sink.child.kill('SIGTERM');
      await sink.exited;
    }
  });
});
