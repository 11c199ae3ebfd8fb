import type { Command } from 'commander';
import { ConfigError } from '../../contracts/errors.js';
import { topicNames } from '../../contracts/topic-names.js';
import { createKafka } from '../../kafka/client.js';
import { existingTopics } from '../../kafka/topic-admin.js';
import { toolLogger } from '../../observability/logger.js';
import { PrivacyLog } from '../../privacy/privacy-log.js';
import { openRawLayer, readRawLayer, rowJson } from '../../privacy/raw-reader.js';
import { rerunRaw } from '../../replay/raw.js';
import { bySourceText } from '../../replay/send.js';
import { type FolderCheck, verifyFolder } from '../../sinks/manifest.js';
import { openObjectStore } from '../../storage/backends.js';
import { loadTopology } from '../../topology/load.js';
import {
  calendarDate,
  configWithStorage,
  many,
  report,
  sourcesOf,
  type TableAtOptions,
  type TopologyOptions,
  tableAt,
  withJson,
  withStorageToRead,
  withTableAt,
  withTopology,
} from '../options.js';

export function registerRawCommands(program: Command): void {
  const raw = program
    .command('raw')
    .description('The raw layer (Parquet under C360_STORAGE_URL, or Iceberg tables with C360_CATALOG_URL): verify, read, re-run.');
  withJson(withStorageToRead(raw.command('verify')))
    .description("Check every folder's manifest against its files: each file listed once, each listed file present, every sha256 equal.")
    .option('--date <YYYY-MM-DD>', 'only folders of this ingest date', calendarDate)
    .action(async (o: { date?: string; storage?: string; json: boolean }) => {
      const store = openObjectStore(configWithStorage(o.storage));
      const folders = new Set<string>();
      for (const layer of ['raw/', 'near-duplicates/', 'quarantine/']) {
        for (const key of await store.list(layer)) {
          if (!key.endsWith('.parquet') || (o.date && !key.includes(`/date=${o.date}/`))) continue;
          folders.add(key.slice(0, key.lastIndexOf('/')));
        }
      }
      const checks: FolderCheck[] = [];
      for (const folder of [...folders].sort()) checks.push(await verifyFolder(store, folder));
      store.close();
      const bad = checks.filter((c) => c.problems.length > 0).length;
      report(o, { folders: checks }, () => {
        for (const check of checks) {
          console.log(`${check.problems.length ? 'FAIL' : 'ok  '} ${check.folder}: ${check.files} files, ${check.rows} rows`);
          for (const p of check.problems) console.log(`     ${p}`);
        }
        console.log(folders.size === 0 ? `no files in ${store.url}` : `${folders.size} folder(s), ${bad} with problems`);
      });
      if (bad > 0) process.exitCode = 1;
    });

  withJson(withTableAt(withStorageToRead(withTopology(raw.command('rerun')))))
    .description(
      "Send the raw layer's records of some ingest days, decrypted, into the ingest topics of another namespace (--into), where that namespace's topology — today's checks — and sink land them in tables of its own: compare the two with `ledger` and `table ls`. Records of forgotten people are not sent; the copy is registered, so `privacy forget` here forgets in it too; recorded in the access log.",
    )
    .requiredOption('--into <namespace>', 'the namespace to run the records through (create its topics first: c360 topics create -n <namespace>)')
    .option('--source <source>', 'only this source (repeatable)', many(), [])
    .option('--from <YYYY-MM-DD>', 'first ingest day to run again', calendarDate)
    .option('--to <YYYY-MM-DD>', 'last ingest day to run again', calendarDate)
    .option('--dry-run', 'count what would be sent', false)
    .action(
      async (
        o: TopologyOptions & TableAtOptions & { into: string; source: string[]; from?: string; to?: string; dryRun: boolean; storage?: string; json: boolean },
      ) => {
        const config = configWithStorage(o.storage);
        const topology = await loadTopology(o.topology, o);
        const target = await loadTopology(o.topology, { ...o, namespace: o.into });
        if (target.namespace === topology.namespace) throw new ConfigError(`--into names ${o.into}, the namespace read from: a re-run goes into another one.`);
        if (o.from && o.to && o.from > o.to) throw new ConfigError(`--from ${o.from} is after --to ${o.to}.`);
        const sources = sourcesOf(topology, o.source);
        const kafka = createKafka(config, toolLogger(config.logLevel), 'raw-rerun');
        const ingest = (sources.length ? sources : topology.sources.map((s) => s.name)).map((s) => topicNames(target.namespace).ingest(s));
        const existing = o.dryRun ? new Set(ingest) : await existingTopics(kafka);
        const missing = ingest.filter((t) => !existing.has(t));
        if (missing.length) throw new ConfigError(`${missing.join(', ')} do(es) not exist: run c360 topics create -n ${target.namespace} first.`);
        const layer = openRawLayer(config, topology, 'c360 raw rerun', tableAt(o));
        try {
          const log = new PrivacyLog(layer.store, topology.namespace);
          await log.access({ action: 'raw rerun', what: { into: target.namespace, source: sources, from: o.from, to: o.to, ...tableAt(o) } });
          const result = await rerunRaw({
            layer,
            kafka,
            from: topology.namespace,
            into: target.namespace,
            sources,
            firstDay: o.from,
            lastDay: o.to,
            log,
            dryRun: o.dryRun,
          });
          report(o, { into: target.namespace, dryRun: o.dryRun, ...result }, () => {
            const by = bySourceText(result.bySource);
            console.log(
              `${o.dryRun ? 'would send' : 'sent'} ${result.sent} record(s) into ${target.namespace}${by ? ` (${by})` : ''}${result.forgotten ? `; ${result.forgotten} of forgotten people not sent` : ''}${result.unknownEntity ? `; ${result.unknownEntity} of entities the topology no longer has not sent` : ''}`,
            );
          });
        } finally {
          await layer.close();
        }
      },
    );

  withTableAt(withStorageToRead(withTopology(raw.command('read'))))
    .description(
      "Print the raw layer's rows as NDJSON, personal fields decrypted while their subject's key exists (null, and _forgotten true, once it does not); recorded in the access log.",
    )
    .option('--source <source>', 'only this source (repeatable)', many(), [])
    .option('--date <YYYY-MM-DD>', 'only this ingest date (repeatable)', many(calendarDate), [])
    .action(async (o: TopologyOptions & TableAtOptions & { source: string[]; date: string[]; storage?: string }) => {
      const topology = await loadTopology(o.topology, o);
      sourcesOf(topology, o.source);
      const layer = openRawLayer(configWithStorage(o.storage), topology, 'c360 raw read', tableAt(o));
      try {
        await new PrivacyLog(layer.store, topology.namespace).access({ action: 'raw read', what: { source: o.source, date: o.date, ...tableAt(o) } });
        for await (const row of readRawLayer(layer, { source: o.source, date: o.date })) {
          process.stdout.write(
            `${rowJson({ source: row.source, entity: row.entity, date: row.date, ...row.record, ...(row.forgotten ? { _forgotten: true } : {}) })}\n`,
          );
        }
      } finally {
        await layer.close();
      }
    });
}
