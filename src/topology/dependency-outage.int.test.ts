// Infrastructure faults caused for real while a topology worker runs: the key store's role loses
// its privileges, its password is changed, its server is stopped; the registry stops answering
// while records under a schema the worker has not seen arrive. None of it is a record's fault: no
// record is dead-lettered, the partition waits (and says on what), and every record lands once the
// fault clears, with the ledger balanced.
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { crmProfile, variant } from '../../test/fixtures/records.js';
import { type FaultProxy, startFaultProxy } from '../../test/support/fault-proxy.js';
import { config, eventually, logger, testKafka } from '../../test/support/kafka.js';
import { type PrivatePostgres, startPrivatePostgres } from '../../test/support/postgres.js';
import { json, ledgerNow, produce, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { frame } from '../contracts/framing.js';
import type { LedgerTotals } from '../contracts/ledger.js';
import { topicNames } from '../contracts/topic-names.js';
import { openKeyStore } from '../privacy/key-store.js';
import { loadSchema, parseType } from '../schema/avro.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';
import { loadTopology } from './load.js';
import { TopologyRunner } from './runner.js';

const kafka = testKafka();
const profile = (i: number) => json(variant(crmProfile, { customer_id: `C-${i}`, email: `c${i}@example.com`, phone: null, last_name: `N${i}` }));
const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => profile(from + i));
const TABLES = 'c360_subject_keys, c360_identifiers, c360_suppressed, c360_erasure_log';

/** While the fault lasts: the worker names the dependency it waits on, and the ledger does not move. */
async function pausedOn(runner: TopologyRunner, names: ReturnType<typeof topicNames>, dependency: string, before: LedgerTotals): Promise<string[]> {
  const waiting = await eventually(
    async () => runner.worker.waitingOn(),
    (w) => w.some((line) => line.includes(` on ${dependency} `)),
    30_000,
  );
  await sleep(1_500);
  const during = await ledgerNow(kafka, names);
  expect(during.total).toEqual(before.total);
  return waiting;
}

describe('infrastructure faults pause the topology; no record is blamed', () => {
  let postgres: PrivatePostgres;
  let runner: TopologyRunner | undefined;
  let proxy: FaultProxy | undefined;
  afterAll(async () => {
    await runner?.stop();
    await proxy?.close();
    postgres?.destroy();
  });

  it('the key store: privileges revoked, the password changed, the server stopped; each waited out', async () => {
    postgres = startPrivatePostgres();
    const namespace = testNamespace();
    const names = topicNames(namespace);
    // The tables are the administrator's; the worker's role may use them and nothing more, as in production.
    const admin = openKeyStore({ ...config, keyStoreUrl: postgres.adminUrl }, namespace);
    await admin.check();
    await admin.close();
    await postgres.sql(`create role c360app login password 'first'; grant select, insert, update, delete on ${TABLES} to c360app`);
    runner = new TopologyRunner({
      config: { ...config, keyStoreUrl: postgres.urlOf('c360app', 'first') },
      topology: await loadTopology('customer360', { namespace }),
      logger,
      metrics: new Registry(),
      sessionTimeoutMs: 6_000,
    });
    await runner.start();
    await produce(kafka, names.ingest('crm'), batch(0, 40));
    let ledger = await waitForLedger(kafka, names, (l) => l.total.in === 40);

    await postgres.sql(`revoke all on ${TABLES} from c360app`);
    await produce(kafka, names.ingest('crm'), batch(40, 40));
    const revoked = await pausedOn(runner, names, 'key-store', ledger);
    expect(revoked.join()).toMatch(/the key store refused \(permission denied for table c360_\w+, SQLSTATE 42501\)/);
    await postgres.sql(`grant select, insert, update, delete on ${TABLES} to c360app`);
    ledger = await waitForLedger(kafka, names, (l) => l.total.in === 80);
    expect(runner.worker.waitingOn()).toEqual([]);

    // A rotated password: the pool's connections are ended and new ones refused until it is set back.
    await postgres.sql(`alter role c360app password 'second'; select pg_terminate_backend(pid) from pg_stat_activity where usename = 'c360app'`);
    await produce(kafka, names.ingest('crm'), batch(80, 40));
    const rotated = await pausedOn(runner, names, 'key-store', ledger);
    expect(rotated.join()).toMatch(/password authentication failed for user "c360app", SQLSTATE 28P01\): check the user and password of C360_KEY_STORE_URL/);
    await postgres.sql(`alter role c360app password 'first'`);
    ledger = await waitForLedger(kafka, names, (l) => l.total.in === 120);

    postgres.stop();
    await produce(kafka, names.ingest('crm'), batch(120, 40));
    const stopped = await pausedOn(runner, names, 'key-store', ledger);
    expect(stopped.join()).toMatch(/the key store is unreachable/);
    postgres.start();
    ledger = await waitForLedger(kafka, names, (l) => l.total.in === 160, 90_000);

    expect(ledger.total).toMatchObject({ in: 160, raw: 160, duplicates: 0, dead_letter: 0, suppressed: 0 });
    await runner.stop();
    runner = undefined;
  });

  it('the registry stops answering while records under a schema the worker has not seen arrive: they wait, then land', async () => {
    const namespace = testNamespace();
    const names = topicNames(namespace);
    const registryUrl = new URL(config.schemaRegistry.url);
    proxy = await startFaultProxy({ host: registryUrl.hostname, port: Number(registryUrl.port) });
    runner = new TopologyRunner({
      config: { ...config, schemaRegistry: { ...config.schemaRegistry, url: `${proxy.url}${registryUrl.pathname}` } },
      topology: await loadTopology('customer360', { namespace }),
      logger,
      metrics: new Registry(),
      sessionTimeoutMs: 6_000,
    });
    await runner.start();
    // A producer's own writer schema (one more optional field), registered straight with the registry: the worker must fetch it.
    const base = loadSchema('CustomerProfile').schema as { fields: unknown[] };
    const writer = { ...base, fields: [...base.fields, { name: 'probe_note', type: ['null', 'string'], default: null }] };
    const id = await registerAvro(createSchemaRegistry(config), `${namespace}.producer-CustomerProfile`, writer);
    const type = parseType(writer);
    const avro = (i: number) => ({
      key: `C-${i}`,
      value: frame(id, type.toBuffer({ ...crmProfile, customer_id: `C-${i}`, birth_date: 7395, updated_at: Date.UTC(2026, 10, 1), probe_note: null })),
    });
    await proxy.set('refuse');
    await produce(
      kafka,
      names.ingest('crm'),
      Array.from({ length: 20 }, (_, i) => avro(i)),
    );
    const waiting = await pausedOn(runner, names, 'registry', await ledgerNow(kafka, names));
    expect(waiting.join()).toMatch(/ECONNREFUSED/);
    await proxy.set('pass');
    const ledger = await waitForLedger(kafka, names, (l) => l.total.in === 20);
    expect(ledger.total).toMatchObject({ in: 20, raw: 20, dead_letter: 0 });
  });
});
