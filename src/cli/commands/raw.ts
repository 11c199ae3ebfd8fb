import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { verifyFolder } from '../../sinks/manifest.js';
import { openObjectStore } from '../../storage/backends.js';
import { isoDate, storageToRead } from '../options.js';

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
}
