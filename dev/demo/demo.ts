/**
 * `c360 demo`: the whole flow on the bundled samples (samples/), end to end on the real stack.
 * Batch files go through `c360 ingest`'s path, web events through the HTTP collector, support
 * tickets through the REST connector (from a stand-in vendor API); a topology worker and a sink
 * worker run until everything has landed; then a reconciliation per source is printed and
 * checked. Each run uses a namespace of its own, so it can be run again and again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { type Config, loadConfig } from '../../src/config.js';
import { balanced, type LedgerEntry, type LedgerTotals, totalsOf } from '../../src/contracts/ledger.js';
import { projectRoot } from '../../src/contracts/project.js';
import { topicNames } from '../../src/contracts/topic-names.js';
import { Collector } from '../../src/extraction/collector/server.js';
import { parseCollectorSettings } from '../../src/extraction/collector/settings.js';
import { runConnector } from '../../src/extraction/connectors/connector.js';
import { RestConnector, restConnectorSchema } from '../../src/extraction/connectors/rest.js';
import { ingestFile } from '../../src/extraction/file-ingest.js';
import { loadMappingFile } from '../../src/extraction/mapping.js';
import { formatOf } from '../../src/extraction/readers/index.js';
import { RestCatalog } from '../../src/iceberg/rest-catalog.js';
import { mainSnapshot } from '../../src/iceberg/table-metadata.js';
import { createKafka } from '../../src/kafka/client.js';
import { readToEnd } from '../../src/kafka/read-to-end.js';
import type { Logger } from '../../src/observability/logger.js';
import { openKeyStore } from '../../src/privacy/key-store.js';
import { pseudonymsFrom } from '../../src/privacy/pseudonyms.js';
import { RecordPrivacy } from '../../src/privacy/records.js';
import { UnidentifiedSealer } from '../../src/privacy/sealed.js';
import { countQuarantine, type QuarantineCount } from '../../src/quarantine/store.js';
import { type CompiledEntity, compilePrimaryEntity } from '../../src/schema/entity.js';
import { openLayerFiles } from '../../src/sinks/layer-files.js';
import { SinkWorker } from '../../src/sinks/sink-worker.js';
import { openObjectStore } from '../../src/storage/backends.js';
import { loadTopology } from '../../src/topology/load.js';
import { TopologyRunner } from '../../src/topology/runner.js';
import { deadLetterContract } from '../../src/topology/setup.js';
import { CATALOG_URL } from '../stack/catalog.js';
import { ensureStack } from '../stack/ensure.js';
import { S3_URL } from '../stack/s3.js';
import { type Ticket, VendorApi } from './vendor-api.js';

const API_KEY = 'demo-web-key-0123456789';
const VENDOR_TOKEN = 'demo-vendor-token';

export interface DemoResult {
  ok: boolean;
  namespace: string;
}

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`the demo waited ${timeoutMs / 1000} s for ${what}`);
    await sleep(500);
  }
}

/** Rows each layer holds, from the newest snapshot of each of its tables. */
async function landedRows(catalog: RestCatalog, namespace: string): Promise<Record<'raw' | 'quarantine' | 'near-duplicates', number>> {
  const out = { raw: 0, quarantine: 0, 'near-duplicates': 0 };
  for (const name of await catalog.listTables(namespace)) {
    const loaded = await catalog.loadTable(namespace, name);
    const layer = name === 'quarantine' ? 'quarantine' : name === 'near_duplicates' ? 'near-duplicates' : 'raw';
    out[layer] += Number((loaded && mainSnapshot(loaded.metadata)?.summary['total-records']) ?? 0);
  }
  return out;
}

/** The local stack's catalog and warehouse, unless the environment names others. */
function withStackCatalog(config: Config): Config {
  if (config.catalog) return config;
  process.env.AWS_ACCESS_KEY_ID ??= 'c360-local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'c360-local';
  return { ...config, catalog: { url: CATALOG_URL, timeoutMs: 30_000 }, s3: { ...config.s3, endpoint: config.s3.endpoint ?? S3_URL, forcePathStyle: true } };
}

export async function runDemo(given: Config, logger: Logger, print: (line: string) => void): Promise<DemoResult> {
  const samples = path.join(projectRoot(), 'samples');
  const started = await ensureStack(given, { catalog: true, s3: true, onProgress: (line) => print(`stack: ${line}`) });
  // Read again: the stack may have just made the development secrets and set its single-broker topic defaults.
  const config = withStackCatalog(loadConfig());
  const catalog = new RestCatalog(config.catalog!);

  const namespace = `demo-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
  const topology = await loadTopology('customer360', { namespace });
  const names = topicNames(namespace);
  const sources = new Map<string, CompiledEntity>(topology.sources.map((s) => [s.name, compilePrimaryEntity(s)]));
  const kafka = createKafka(config, logger, 'demo');
  print(`namespace ${namespace}: topics ${namespace}.*, tables ${namespace}.* in the Iceberg catalog at ${config.catalog!.url}`);

  const runner = new TopologyRunner({ config, topology, logger, metrics: new Registry(), summaryIntervalMs: 3_600_000 });
  const keyStore = openKeyStore(config, namespace);
  await runner.start();
  const sink = new SinkWorker({ config, topology, logger, metrics: new Registry(), rotation: { idleFlushMs: 1_000 }, summaryIntervalMs: 3_600_000 });
  await sink.start();
  const collector = new Collector({
    kafka,
    namespace,
    entities: sources,
    settings: parseCollectorSettings({ apiKeys: { [API_KEY]: 'web' } }, [...sources.keys()]),
    maxRecordBytes: topology.maxRecordBytes,
    metrics: new Registry(),
    logger,
  });
  const collectorUrl = await collector.start(0, '127.0.0.1');
  const vendor = new VendorApi(VENDOR_TOKEN);
  vendor.tickets = JSON.parse(fs.readFileSync(path.join(samples, 'support', 'tickets.json'), 'utf8')) as Ticket[];
  await vendor.start();

  const received = new Map<string, number>();
  try {
    // 1. Batch files, as `c360 ingest` sends them.
    const deadLetter = await deadLetterContract(config, kafka, namespace);
    const sealer = new UnidentifiedSealer(keyStore, new RecordPrivacy(pseudonymsFrom(config, 'the demo')));
    const files: Array<[string, string, string | undefined]> = [
      ['crm', 'crm/customers.csv', 'crm/customers.mapping.json'],
      ['commerce', 'commerce/orders.csv', undefined],
      ['marketing', 'marketing/email-events.ndjson', undefined],
      ['enrichment', 'enrichment/demographics.parquet', undefined],
    ];
    for (const [source, file, mapping] of files) {
      const full = path.join(samples, file);
      const r = await ingestFile({
        kafka,
        namespace,
        entity: sources.get(source)!,
        file: full,
        format: formatOf(full, undefined),
        mapping: loadMappingFile(mapping ? path.join(samples, mapping) : undefined),
        sourceKind: 'batch',
        deadLetter,
        maxRecordBytes: topology.maxRecordBytes,
        store: openObjectStore(config),
        sealer,
      });
      received.set(source, r.rows);
      print(`batch      ${file}: ${r.rows} rows, ${r.sent} sent, ${r.deadLettered} dead-lettered at extraction`);
    }

    // 2. Web events through the collector, ten per request.
    const events = fs
      .readFileSync(path.join(samples, 'web', 'events.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as unknown);
    let accepted = 0;
    for (let i = 0; i < events.length; i += 10) {
      const res = await fetch(`${collectorUrl}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body: JSON.stringify(events.slice(i, i + 10)),
      });
      if (!res.ok) throw new Error(`the collector answered ${res.status}: ${await res.text()}`);
      accepted += ((await res.json()) as { accepted: number }).accepted;
    }
    received.set('web', accepted);
    print(`collector  web/events.ndjson: ${accepted} events POSTed to ${collectorUrl}/v1/events, each acknowledged by Kafka`);

    // 3. Support tickets through the REST connector.
    const connector = new RestConnector(
      restConnectorSchema.parse({
        name: 'helpdesk',
        source: 'support',
        url: `${vendor.url}/api/tickets`,
        headers: { authorization: `Bearer ${VENDOR_TOKEN}` },
        recordsPath: 'tickets',
        pagination: { type: 'cursor', nextCursorPath: 'meta.next_cursor' },
        pageSize: { param: 'per_page', size: 5 },
        updatedSince: { param: 'updated_since', field: 'updated_at' },
      }),
    );
    const pulled = await runConnector({
      kafka,
      namespace,
      connector,
      entity: sources.get('support')!,
      logger,
      once: true,
      deadLetter,
      store: openObjectStore(config),
      sealer,
      maxRecordBytes: topology.maxRecordBytes,
    });
    received.set('support', pulled.records + pulled.deadLettered);
    print(`connector  helpdesk API: ${pulled.records} tickets in ${pulled.pages} pages, each page committed with its cursor`);

    // 4. Wait for the topology and the sinks.
    const total = [...received.values()].reduce((a, b) => a + b, 0);
    const ledger = await until(
      'the topology to check every record',
      async () => {
        const entries: LedgerEntry[] = [];
        await readToEnd(kafka, names.ledger, (m) => entries.push(JSON.parse(m.value!.toString()) as LedgerEntry));
        return totalsOf(entries);
      },
      (l) => l.total.in >= total,
      120_000,
    );
    const landed = await until(
      'the sinks to land every record',
      () => landedRows(catalog, namespace),
      (r) => r.raw >= ledger.total.raw && r.quarantine >= ledger.total.dead_letter && r['near-duplicates'] >= ledger.total.near_duplicates,
      120_000,
    );
    const layerFiles = openLayerFiles(config, topology);
    const quarantine = (await countQuarantine(layerFiles).finally(() => layerFiles.close())).byCode;
    const ok = report(print, received, ledger, landed, quarantine);
    // The local S3 takes any key; the commands need one all the same.
    const env = `C360_CATALOG_URL=${config.catalog!.url} C360_S3_ENDPOINT=${config.s3.endpoint} C360_S3_FORCE_PATH_STYLE=true AWS_ACCESS_KEY_ID=${process.env.AWS_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY=${process.env.AWS_SECRET_ACCESS_KEY}`;
    print('');
    print(`tables     ${env} npx c360 table ls -n ${namespace}`);
    print(`read       ${env} npx c360 raw read -n ${namespace} --source crm   (decrypted; --snapshot <id> or --as-of <time> reads the past)`);
    print(`quarantine ${env} npx c360 quarantine ls -n ${namespace}`);
    print(
      `spark      spark-sql --conf spark.sql.catalog.c360=org.apache.iceberg.spark.SparkCatalog --conf spark.sql.catalog.c360.type=rest --conf spark.sql.catalog.c360.uri=${config.catalog!.url} -e "SELECT _source, count(*) FROM c360.\\\`${namespace}\\\`.raw_crm GROUP BY 1"`,
    );
    if (started.length > 0) print(`stack      left running for the commands above (${started.join(', ')}); \`npx c360 stack down\` stops it`);
    return { ok, namespace };
  } finally {
    await vendor.close();
    await collector.stop();
    await sink.stop();
    await runner.stop();
    await keyStore.close();
  }
}

function report(
  print: (line: string) => void,
  received: Map<string, number>,
  ledger: LedgerTotals,
  landed: Record<string, number>,
  quarantine: QuarantineCount[],
): boolean {
  const header = ['source', 'received', 'landed raw', 'duplicates', 'near-dups', 'quarantined', 'balanced'];
  const rows: string[][] = [];
  let ok = true;
  for (const [source, n] of [...received].sort()) {
    const c = ledger.bySource.get(source);
    const quarantined = c?.dead_letter ?? 0;
    const good = c !== undefined && c.in === n && balanced(c);
    ok &&= good;
    rows.push([source, String(n), String(c?.raw ?? 0), String(c?.duplicates ?? 0), String(c?.near_duplicates ?? 0), String(quarantined), good ? 'yes' : 'NO']);
  }
  const t = ledger.total;
  const layerOk = landed.raw === t.raw && landed.quarantine === t.dead_letter && landed['near-duplicates'] === t.near_duplicates;
  ok &&= layerOk && balanced(t);
  rows.push([
    'total',
    String([...received.values()].reduce((a, b) => a + b, 0)),
    String(t.raw),
    String(t.duplicates),
    String(t.near_duplicates),
    String(t.dead_letter),
    balanced(t) ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  print('');
  print('reconciliation (received = landed raw + duplicates dropped + quarantined)');
  print(line(header));
  for (const r of rows) print(line(r));
  print('');
  print('quarantined by error code');
  for (const q of quarantine) print(`  ${q.source.padEnd(11)} ${q.code.padEnd(30)} ${String(q.records).padStart(4)}`);
  print('');
  print(
    `raw layer  ${landed.raw} raw rows, ${landed['near-duplicates']} near-duplicate events, ${landed.quarantine} quarantined rows in Iceberg tables: ${layerOk ? 'equal to the ledger' : 'NOT EQUAL to the ledger'}`,
  );
  print(ok ? 'ledger     balanced: every record received is in exactly one place' : 'ledger     NOT BALANCED');
  return ok;
}
