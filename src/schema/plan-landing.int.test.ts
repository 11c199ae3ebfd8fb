// Properties a tracking plan types and declares not personal land typed: web events with a plan go
// through the real topology and a sink into the raw_web Iceberg table, and Iceberg's Java reader
// finds `plan_properties` typed (a double, a long, a boolean) beside the properties map, sealed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { variant, webEvent } from '../../test/fixtures/records.js';
import { readTable, tableConfig } from '../../test/support/iceberg.js';
import { eventually, logger, testKafka } from '../../test/support/kafka.js';
import { clearRedis, json, produce, type RunningTopology, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { RestCatalog } from '../iceberg/rest-catalog.js';
import { mainSnapshot } from '../iceberg/table-metadata.js';
import { SinkWorker } from '../sinks/sink-worker.js';

const kafka = testKafka();
const catalog = new RestCatalog(tableConfig.catalog!);

describe('properties a tracking plan types, landed typed', () => {
  let t: RunningTopology | undefined;
  let sink: SinkWorker | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-landed-'));
  afterAll(async () => {
    await sink?.stop();
    await t?.stop();
    if (t) await clearRedis(t.topology.namespace);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lands them as typed columns a JVM engine reads, while the map stays sealed', async () => {
    const plan = path.join(dir, 'web.json');
    const none = (type: string) => ({ type, 'c360.pii': 'none' });
    fs.writeFileSync(
      plan,
      JSON.stringify({
        mode: 'flag',
        events: { 'Order Completed': { properties: { total: none('number'), items: none('integer'), gift: none('boolean'), order_id: { type: 'string' } } } },
      }),
    );
    t = await startTopology(testNamespace(), (topology) => {
      const web = topology.sources.find((s) => s.name === 'web')!;
      web.plan = plan;
      topology.sources = [web];
    });
    const events = [
      variant(webEvent, { event_id: 'ev-l1', event_name: 'Order Completed', properties: { total: '59.9', items: '2', gift: 'true', order_id: 'ORD-1' } }),
      variant(webEvent, { event_id: 'ev-l2', event_name: 'Order Completed', properties: { total: 'lots', order_id: 'ORD-2' } }),
      variant(webEvent, { event_id: 'ev-l3' }),
    ];
    await produce(
      kafka,
      t.names.ingest('web'),
      events.map((e) => json(e, e.event_id)),
    );
    await waitForLedger(kafka, t.names, (l) => l.total.in === 3);
    sink = new SinkWorker({
      config: tableConfig,
      topology: t.topology,
      logger,
      metrics: new Registry(),
      rotation: { idleFlushMs: 300 },
      sessionTimeoutMs: 10_000,
    });
    await sink.start();
    const ns = t.topology.namespace;
    await eventually(
      async () => Number((await catalog.loadTable(ns, 'raw_web').then((l) => l && mainSnapshot(l.metadata)?.summary['total-records'])) ?? 0),
      (n) => n >= 3,
      60_000,
    );
    const table = await readTable(ns, 'raw_web');
    expect(table.schema).toMatch(/plan_properties: optional struct<\d+: total: optional double, \d+: items: optional long, \d+: gift: optional boolean>/);
    const byId = new Map(table.rows.map((r) => [r.event_id, r]));
    expect(byId.get('ev-l1')!.plan_properties).toEqual({ total: 59.9, items: 2, gift: true });
    // A value not of its type lands null, flagged; an event the plan lands nothing of has no value.
    expect(byId.get('ev-l2')!.plan_properties).toEqual({ total: null, items: null, gift: null });
    expect(byId.get('ev-l3')!.plan_properties).toBeNull();
    // The map itself, order_id included, stays sealed.
    expect(String(byId.get('ev-l1')!.properties)).toMatch(/^c360e2\./);
  }, 180_000);
});
