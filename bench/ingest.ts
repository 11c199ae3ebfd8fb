/**
 * bench:ingest — rows/s and peak memory of `c360 ingest` (a child process) on a generated CSV of
 * BENCH_RECORDS rows (default 1,000,000), against a baseline in the same run: the same file
 * through csv-parse alone, rows counted and dropped. Both are timed from process start.
 */

import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse';
import { localStackDefaults } from '../dev/stack/ensure.js';
import { loadConfig } from '../src/config.js';
import { projectRoot } from '../src/contracts/project.js';
import { kafkaAnswers, registryAnswers } from '../src/observability/probes.js';
import { childBudget, timeChild } from './child.js';

// Benchmarks run on the local stack's single broker: one replica per topic, created by the workers (unless the environment says otherwise).
localStackDefaults();

const TOTAL = Number(process.env.BENCH_RECORDS ?? 1_000_000);

async function parseOnly(file: string): Promise<void> {
  let rows = 0;
  for await (const _ of fs.createReadStream(file).pipe(parse({ bom: true, relax_column_count: true, relax_quotes: true }))) rows++;
  if (rows !== TOTAL + 1) throw new Error(`parsed ${rows} records`);
}

async function writeCsv(file: string): Promise<void> {
  const out = fs.createWriteStream(file);
  out.write(
    'customer_id,email,first_name,last_name,phone,birth_date,address.line1,address.city,address.country,address.postal_code,loyalty_tier,loyalty_points,marketing_consent,updated_at\n',
  );
  for (let i = 0; i < TOTAL; i++) {
    const line = `C-${i},customer${i}@example.com,Ann,Lee${i % 997},+35386${String(1_000_000 + (i % 9_000_000))},1990-04-01,"${i} Main St, Dock",Dublin,IE,D02 X285,SILVER,${i % 5000},${i % 2 === 0},2026-11-01T10:00:00Z\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function main(): Promise<void> {
  if (process.argv[2] === '--parse-only') return parseOnly(process.argv[3]!);
  const config = loadConfig();
  if (!(await kafkaAnswers(config.kafka)) || !(await registryAnswers(config.schemaRegistry))) {
    console.error('bench: the stack does not answer; start it with `npx c360 stack up`.');
    process.exit(1);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-bench-ingest-'));
  const file = path.join(dir, 'crm.csv');
  await writeCsv(file);
  const mib = fs.statSync(file).size / 2 ** 20;
  console.log(`generated ${TOTAL} CSV rows (${mib.toFixed(0)} MiB)`);
  const namespace = `bench${Date.now().toString(36)}`;
  const baseline = await timeChild([new URL(import.meta.url).pathname, '--parse-only', file]);
  const ingest = await timeChild([path.join(projectRoot(), 'bin', 'c360.js'), 'ingest', file, '--source', 'crm', '--namespace', namespace]);
  const rate = (m: { ms: number }) => TOTAL / (m.ms / 1000);
  console.log(
    `baseline     csv-parse alone: ${(baseline.ms / 1000).toFixed(1)} s = ${Math.round(rate(baseline))} rows/s; peak RSS ${baseline.peakRssMiB.toFixed(0)} MiB`,
  );
  console.log(
    `ingest       c360 ingest into Kafka: ${(ingest.ms / 1000).toFixed(1)} s = ${Math.round(rate(ingest))} rows/s; peak RSS ${ingest.peakRssMiB.toFixed(0)} MiB (${childBudget()})`,
  );
  console.log(`ratio        ingest / baseline = ${(rate(ingest) / rate(baseline)).toFixed(2)}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
