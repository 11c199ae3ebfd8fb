import type { Command } from 'commander';
import { PrivacyLog } from '../../privacy/privacy-log.js';
import { openRawLayer, readRawLayer, rowJson } from '../../privacy/raw-reader.js';
import { verifyFolder } from '../../sinks/manifest.js';
import { openObjectStore } from '../../storage/backends.js';
import { loadTopology } from '../../topology/load.js';
import {
  calendarDate,
  configWithStorage,
  many,
  sourcesOf,
  type TableAtOptions,
  type TopologyOptions,
  tableAt,
  withStorageToRead,
  withTableAt,
  withTopology,
} from '../options.js';

export function registerRawCommands(program: Command): void {
  const raw = program.command('raw').description('The raw layer (Parquet under C360_STORAGE_URL).');
  withStorageToRead(raw.command('verify'))
    .description("Check every folder's manifest against its files: each file listed once, each listed file present, every sha256 equal.")
    .option('--date <YYYY-MM-DD>', 'only folders of this ingest date', calendarDate)
    .action(async (o: { date?: string; storage?: string }) => {
      const store = openObjectStore(configWithStorage(o.storage));
      const folders = new Set<string>();
      for (const layer of ['raw/', 'near-duplicates/', 'quarantine/']) {
        for (const key of await store.list(layer)) {
          if (!key.endsWith('.parquet') || (o.date && !key.includes(`/date=${o.date}/`))) continue;
          folders.add(key.slice(0, key.lastIndexOf('/')));
        }
      }
      let bad = 0;
      for (const folder of [...folders].sort()) {
        const check = await verifyFolder(store, folder);
        console.log(`${check.problems.length ? 'FAIL' : 'ok  '} ${folder}: ${check.files} files, ${check.rows} rows`);
        for (const p of check.problems) console.log(`     ${p}`);
        if (check.problems.length) bad++;
      }
      store.close();
      console.log(folders.size === 0 ? `no files in ${store.url}` : `${folders.size} folder(s), ${bad} with problems`);
      if (bad > 0) process.exitCode = 1;
    });

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
