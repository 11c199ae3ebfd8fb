// A real poison pill: an Avro order whose amount has more digits than its decimal(12,2) can hold.
// It decodes (the bytes are a valid integer), then every encoding of it throws. Before containment
// the worker failed the same batch for ever and the partition never moved.
import { afterAll, describe, expect, it } from 'vitest';
import { transaction, variant } from '../../test/fixtures/records.js';
import { collect, config, testKafka } from '../../test/support/kafka.js';
import { json, produce, type RunningTopology, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { runCli } from '../../test/support/worker.js';
import { frame } from '../contracts/framing.js';
import { topicNames } from '../contracts/topic-names.js';
import { loadSchema, parseType } from '../schema/avro.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';
import { loadTopology } from './load.js';
import { createTopologyTopics } from './setup.js';

const kafka = testKafka();

const ledger = (namespace: string) => runCli(['ledger', '--namespace', namespace]);

describe('a record no stage can process', () => {
  const namespace = testNamespace();
  let t: RunningTopology | undefined;

  afterAll(async () => {
    await t?.stop();
  });

  it('is dead-lettered with stage.internal_error, the records around it land once, and c360 ledger counts what waits until then', async () => {
    const names = topicNames(namespace);
    await createTopologyTopics(kafka, await loadTopology('customer360', { namespace }), config.topics);
    // A writer whose total_amount is a decimal(38,2) resolves to the reader's decimal(12,2); 10^20 does not fit it.
    const writer = structuredClone(loadSchema('Transaction').schema) as { fields: { name: string; type: unknown }[] };
    writer.fields.find((f) => f.name === 'total_amount')!.type = { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 2 };
    const writerId = await registerAvro(createSchemaRegistry(config), `${namespace}.wide-orders`, writer);
    const order = (id: string) => variant(transaction, { transaction_id: id });
    const wide = parseType(writer).toBuffer({
      ...transaction,
      transaction_id: 'T-pill',
      occurred_at: Date.parse(transaction.occurred_at),
      line_items: [],
      total_amount: '100000000000000000000.00',
    });

    await produce(kafka, names.ingest('commerce'), [
      json(order('T-before'), 'T-before'),
      { key: 'T-pill', value: frame(writerId, wide) },
      json(order('T-after'), 'T-after'),
    ]);
    // Nothing has processed them yet: the ledger balances (it is empty) but three records wait, and it says so.
    const waiting = await ledger(namespace);
    expect(waiting.code, waiting.output).toBe(1);
    expect(waiting.output).toContain(`unprocessed: 3 records not yet processed (${names.ingest('commerce')}[`);

    t = await startTopology(namespace);
    const totals = await waitForLedger(kafka, names, (l) => l.total.in === 3, 60_000);
    expect(totals.total).toMatchObject({ in: 3, raw: 2, dead_letter: 1 });
    expect(totals.bySource.get('commerce')!.errors).toEqual({ 'stage.internal_error': 1 });
    const raw = await collect(kafka, names.raw('commerce'), (s) => s.length === 2);
    expect(raw.map((m) => m.key!.toString()).sort()).toEqual(['T-after', 'T-before']);

    const done = await ledger(namespace);
    expect(done.code, done.output).toBe(0);
    expect(done.output).toContain('unprocessed: 0');
  });

  it('c360 ledger for a namespace where nothing ran is one sentence and exit 2', async () => {
    const r = await ledger(testNamespace());
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/^c360: namespace t[0-9a-f]{8} has no ledger topic t[0-9a-f]{8}\.ledger: nothing has run under it\.\n$/);
  });
});
