// A real poison pill: an Avro order whose amount has more digits than its decimal(12,2) can hold.
// It decodes (the bytes are a valid integer), then every encoding of it throws. Before containment
// the worker failed the same batch for ever and the partition never moved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transaction, variant } from '../../test/fixtures/records.js';
import { collect, config, testKafka } from '../../test/support/kafka.js';
import { json, produce, type RunningTopology, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { frame } from '../contracts/framing.js';
import { loadSchema, parseType } from '../schema/avro.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';

const kafka = testKafka();

describe('a record no stage can process', () => {
  let t: RunningTopology;

  beforeAll(async () => {
    t = await startTopology(testNamespace());
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('is dead-lettered with stage.internal_error, and the records around it land once', async () => {
    // A writer whose total_amount is a decimal(38,2) resolves to the reader's decimal(12,2); 10^20 does not fit it.
    const writer = structuredClone(loadSchema('Transaction').schema) as { fields: { name: string; type: unknown }[] };
    writer.fields.find((f) => f.name === 'total_amount')!.type = { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 2 };
    const writerId = await registerAvro(createSchemaRegistry(config), `${t.topology.namespace}.wide-orders`, writer);
    const order = (id: string) => variant(transaction, { transaction_id: id });
    const wide = parseType(writer).toBuffer({
      ...transaction,
      transaction_id: 'T-pill',
      occurred_at: Date.parse(transaction.occurred_at),
      line_items: [],
      total_amount: '100000000000000000000.00',
    });

    await produce(kafka, t.names.ingest('commerce'), [
      json(order('T-before'), 'T-before'),
      { key: 'T-pill', value: frame(writerId, wide) },
      json(order('T-after'), 'T-after'),
    ]);
    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === 3, 60_000);
    expect(ledger.total).toMatchObject({ in: 3, raw: 2, dead_letter: 1 });
    expect(ledger.bySource.get('commerce')!.errors).toEqual({ 'stage.internal_error': 1 });
    const raw = await collect(kafka, t.names.raw('commerce'), (s) => s.length === 2);
    expect(raw.map((m) => m.key!.toString()).sort()).toEqual(['T-after', 'T-before']);
  });
});
