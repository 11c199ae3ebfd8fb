import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { openKeyStore } from '../../privacy/key-store.js';
import { pseudonymsFrom } from '../../privacy/pseudonyms.js';
import { readRawLayer, rowJson } from '../../privacy/raw-reader.js';
import { RecordPrivacy } from '../../privacy/records.js';
import { compileEntities } from '../../schema/entity.js';
import { verifyFolder } from '../../sinks/manifest.js';
import { openObjectStore } from '../../storage/backends.js';
import { loadTopology } from '../../topology/load.js';
import { isoDate, many, storageToRead, type TopologyOptions, withTopology } from '../options.js';

export function registerRawCommands(program: Command): void {
  const raw = program.command('raw').description('The raw layer (Parquet under C360_STORAGE_URL).');
  raw
    .command('verify')
    .description("Check every folder's manifest against its files: each file listed once, each listed file present, every sha256 equal.")
    .option('--date <YYYY-MM-DD>', 'only folders of this ingest date', isoDate)
    .option('--storage <url>', 'raw layer root: a folder or s3://bucket/prefix (default C360_STORAGE_URL, else C360_DATA_DIR)', storageToRead)
    .action(async (o: { date?: string; storage?: string }) => {
      const store = openObjectStore(loadConfig(o.storage ? { ...process.env, C360_STORAGE_URL: o.storage } : process.env));
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

  withTopology(raw.command('read'))
    .description(
      "Print the raw layer's rows as NDJSON, personal fields decrypted while their subject's key exists (null, and _forgotten true, once it does not).",
    )
    .option('--source <source>', 'only this source (repeatable)', many(), [])
    .option('--date <YYYY-MM-DD>', 'only this ingest date (repeatable)', many(isoDate), [])
    .option('--storage <url>', 'raw layer root: a folder or s3://bucket/prefix (default C360_STORAGE_URL, else C360_DATA_DIR)', storageToRead)
    .action(async (o: TopologyOptions & { source: string[]; date: string[]; storage?: string }) => {
      const config = loadConfig(o.storage ? { ...process.env, C360_STORAGE_URL: o.storage } : process.env);
      const topology = await loadTopology(o.topology, o);
      const records = new RecordPrivacy(pseudonymsFrom(config, 'c360 raw read'));
      const keyStore = openKeyStore(config, topology.namespace);
      const store = openObjectStore(config);
      const entities = new Map(topology.sources.flatMap(compileEntities).map((e) => [`${e.source}/${e.name}`, e]));
      try {
        for await (const row of readRawLayer({ store, keyStore, records, entities: (s, e) => entities.get(`${s}/${e}`), source: o.source, date: o.date })) {
          process.stdout.write(
            `${rowJson({ source: row.source, entity: row.entity, date: row.date, ...row.record, ...(row.forgotten ? { _forgotten: true } : {}) })}\n`,
          );
        }
      } finally {
        store.close();
        await keyStore.close();
      }
    });
}
