/**
 * bench:collect — events/s through `c360 collect` (a child process) under an autocannon load on
 * loopback, with single events and with batches of 100, on the native endpoint and on the
 * Segment-compatible one (/v1/track, /v1/batch), against the same server's /healthz in the same
 * run (HTTP alone, no Kafka). Every 2xx means Kafka acknowledged (acks=all) its events.
 * BENCH_SECONDS sets each run's length (default 10), BENCH_CONNECTIONS the concurrency (default 32).
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { localStackDefaults } from '../dev/stack/ensure.js';
import { loadConfig } from '../src/config.js';
import { projectRoot } from '../src/contracts/project.js';
import { kafkaAnswers } from '../src/observability/probes.js';
import { childBudget } from './child.js';

// Benchmarks run on the local stack's single broker: one replica per topic, created by the workers (unless the environment says otherwise).
localStackDefaults();

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const KEY = 'bench-key-0123456789abcdef';
const WRITE_KEY = 'bench-segment-write-key-0123';

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ ...opts, duration: SECONDS, connections: CONNECTIONS }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

const event = (i: number) => ({
  event_id: `bench-${i}`,
  event_type: 'PAGE_VIEW',
  occurred_at: '2026-11-20T08:30:00.000Z',
  customer_id: `C-${i % 5000}`,
  page_url: 'https://shop.example/p/1',
  properties: { campaign: 'winter' },
});

async function main(): Promise<void> {
  if (!(await kafkaAnswers(loadConfig().kafka))) {
    console.error('bench: Kafka does not answer; start the stack with `npx c360 stack up`.');
    process.exit(1);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-bench-collect-'));
  const settings = path.join(dir, 'collector.json');
  fs.writeFileSync(settings, JSON.stringify({ apiKeys: { [KEY]: 'web' }, segmentWriteKeys: { [WRITE_KEY]: 'web' }, bodyLimitBytes: 4_194_304 }));
  const namespace = `bench${Date.now().toString(36)}`;
  const child = spawn(
    process.execPath,
    [path.join(projectRoot(), 'bin', 'c360.js'), 'collect', '--config', settings, '--port', '0', '--namespace', namespace],
    {
      env: { ...process.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      // Its stdout is JSON log lines; the one that says it listens carries the URL.
      const line = out.split('\n').find((l) => l.includes('"collector listening"'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.on('exit', () => reject(new Error('collector exited')));
  });
  try {
    const headers = { 'content-type': 'application/json', 'x-api-key': KEY };
    const baseline = await run({ url: `${url}/healthz` });
    const single = await run({ url: `${url}/v1/events`, method: 'POST', headers, body: JSON.stringify(event(1)) });
    const batch = await run({ url: `${url}/v1/events`, method: 'POST', headers, body: JSON.stringify(Array.from({ length: 100 }, (_, i) => event(i))) });
    // The same events as a Segment SDK sends them: basic auth with the write key, a track per event, sentAt on the batch.
    const segmentHeaders = { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` };
    const track = (i: number) => ({
      type: 'track',
      messageId: `bench-${i}`,
      userId: `C-${i % 5000}`,
      event: 'Page Viewed',
      timestamp: '2026-11-20T08:30:00.000Z',
      properties: { url: 'https://shop.example/p/1', campaign: 'winter' },
      context: { library: { name: 'bench', version: '1' } },
    });
    const sentAt = '2026-11-20T08:30:01.000Z';
    const segmentSingle = await run({ url: `${url}/v1/track`, method: 'POST', headers: segmentHeaders, body: JSON.stringify({ ...track(1), sentAt }) });
    const segmentBatch = await run({
      url: `${url}/v1/batch`,
      method: 'POST',
      headers: segmentHeaders,
      body: JSON.stringify({ batch: Array.from({ length: 100 }, (_, i) => track(i)), sentAt }),
    });
    const line = (label: string, r: autocannon.Result, events: number) =>
      console.log(
        `${label.padEnd(24)} ${Math.round(r.requests.average)} requests/s, ${Math.round(r.requests.average * events)} events/s; latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms; ` +
          `${r['2xx']} 2xx, ${r.non2xx} other, ${r.errors} errors`,
      );
    console.log(`${SECONDS} s each, ${CONNECTIONS} connections, loopback`);
    line('GET /healthz (baseline)', baseline, 0);
    line('POST 1 event', single, 1);
    line('POST 100 events', batch, 100);
    line('Segment /v1/track', segmentSingle, 1);
    line('Segment /v1/batch 100', segmentBatch, 100);
    console.log(`ratio                  single-event requests/s vs baseline = ${(single.requests.average / baseline.requests.average).toFixed(2)}`);
    console.log(
      `ratio                  Segment vs native events/s: single ${(segmentSingle.requests.average / single.requests.average).toFixed(2)}, batch of 100 ${(segmentBatch.requests.average / batch.requests.average).toFixed(2)}`,
    );
    // VmHWM: the kernel's own peak of the collector's RSS over all five runs (the launcher execs, so the pid stays the CLI's).
    const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
    console.log(`collector (c360 collect) peak RSS ${(peakKiB / 1024).toFixed(0)} MiB (${childBudget()})`);
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
