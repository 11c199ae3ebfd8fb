/**
 * bench:topology — records/s through the full topology and through a passthrough topology (same
 * client, same transactions, no stages) on the same pre-produced synthetic input, in one run on
 * the local stack, each a `c360 run` worker process of its own (its peak RSS and CPU printed). Prints both, their ratio and the ledger. BENCH_RECORDS sets the size (default 1,000,000);
 * BENCH_ENCODING=json sends the same records as JSON objects instead of Confluent-framed Avro;
 * BENCH_WORKERS runs that many worker processes in the group (default 1);
 * BENCH_WORKER_ARGS adds arguments to the workers' `c360 run` (e.g. `--max-batch-bytes 524288`), and
 * NODE_OPTIONS reaches them (e.g. `--max-old-space-size=256`).
 * The physical baseline first: kcat (librdkafka) consuming the same input and producing it again
 * with acks=all and idempotence (Debian's kcat, installed when missing and the bench runs as root).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Redis } from 'ioredis';
import { localStackDefaults } from '../dev/stack/ensure.js';
import { loadConfig } from '../src/config.js';
import { addCounts, balanced, emptyCounts, type LedgerEntry } from '../src/contracts/ledger.js';
import { projectRoot } from '../src/contracts/project.js';
import { topicNames } from '../src/contracts/topic-names.js';
import { createKafka } from '../src/kafka/client.js';
import { ensureTopics } from '../src/kafka/topic-admin.js';
import { createLogger } from '../src/observability/logger.js';
import { kafkaAnswers, redisAnswers, registryAnswers } from '../src/observability/probes.js';
import { loadSchema } from '../src/schema/avro.js';
import { compilePrimaryEntity } from '../src/schema/entity.js';
import { createSchemaRegistry } from '../src/schema/registry.js';
import { loadTopology } from '../src/topology/load.js';
import { createTopologyTopics, registerTopologySchemas } from '../src/topology/setup.js';
import { childBudget, timeChild } from './child.js';
import { dropRedisKeys, dropTopics, redisBytes } from './cleanup.js';
import { cpuMeter, describeCpu } from './cpu.js';
import { synthetic } from './synthetic.js';

// Benchmarks run on the local stack's single broker: one replica per topic, created by the workers (unless the environment says otherwise).
localStackDefaults();

const TOTAL = Number(process.env.BENCH_RECORDS ?? 1_000_000);
/** Worker processes in the group (BENCH_WORKERS, default 1): peak RSS is the largest one's, CPU is theirs together. */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
if (!Number.isInteger(WORKERS) || WORKERS < 1) {
  console.error(`bench: BENCH_WORKERS must be a whole number of at least 1, not "${process.env.BENCH_WORKERS}".`);
  process.exit(2);
}
const ENCODING = process.env.BENCH_ENCODING === 'json' ? 'json' : 'avro';
const config = loadConfig();
const logger = createLogger((process.env.LOG_LEVEL as 'warn' | undefined) ?? 'warn');
const kafka = createKafka(config, logger, 'bench');

async function requireStack(): Promise<void> {
  const ok = (await kafkaAnswers(config.kafka)) && (await registryAnswers(config.schemaRegistry)) && (await redisAnswers(config.redisUrl));
  if (!ok) {
    console.error('bench: the stack does not answer; start it with `npx c360 stack up`.');
    process.exit(1);
  }
}

async function prepare(namespace: string, stages: 'all' | 'none') {
  const topology = await loadTopology('customer360', { namespace });
  topology.sources = topology.sources.filter((s) => s.name === 'crm' || s.name === 'web');
  if (stages === 'none') topology.stages = [];
  await createTopologyTopics(kafka, topology, config.topics);
  const ids = await registerTopologySchemas(createSchemaRegistry(config), topology, topology.sources.map(compilePrimaryEntity));
  return { topology, ingestIds: { crm: ids.ingest.get('crm')!, web: ids.ingest.get('web')! } };
}

async function produceAll(namespace: string, data: ReturnType<typeof synthetic>): Promise<number> {
  const names = topicNames(namespace);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const t0 = performance.now();
  for (const [source, mix] of [
    ['crm', data.crm],
    ['web', data.web],
  ] as const) {
    const type = loadSchema(source === 'crm' ? 'CustomerProfile' : 'BehavioralEvent').type;
    for (let i = 0; i < mix.messages.length; i += 5000) {
      let messages = mix.messages.slice(i, i + 5000);
      // JSON as a producer would write it: the same record, timestamps as epoch milliseconds.
      if (ENCODING === 'json') messages = messages.map((m) => ({ ...m, value: JSON.stringify(type.fromBuffer((m.value as Buffer).subarray(5))) }));
      await producer.send({ topic: names.ingest(source), acks: -1, messages });
    }
  }
  await producer.disconnect();
  return performance.now() - t0;
}

/**
 * The worker as its own process (`c360 run` on this topology, written to a file), so that its peak
 * RSS and CPU are its own; done when the ledger counts every record in. The rate after start-up is
 * between the worker's first and last commits (the ledger entries' commit times).
 */
async function measure(label: string, topology: Awaited<ReturnType<typeof prepare>>['topology']) {
  const file = path.join(os.tmpdir(), `${topology.namespace}.topology.json`);
  fs.writeFileSync(file, JSON.stringify(topology));
  const total = emptyCounts();
  // The first and last commits, by the worker's own clock: the rate after start-up is the records between them over the time between them.
  let first: LedgerEntry | undefined;
  let firstAt = 0;
  let lastAt = 0;
  const ledger = kafka.consumer({ groupId: `${topology.namespace}.bench-ledger` });
  await ledger.connect();
  await ledger.subscribe({ topic: topicNames(topology.namespace).ledger, fromBeginning: true });
  await ledger.run({
    eachMessage: async ({ message }) => {
      const entry = JSON.parse(message.value!.toString()) as LedgerEntry;
      const at = Date.parse(entry.committed_at);
      if (!first || at < firstAt) [first, firstAt] = [entry, at];
      lastAt = Math.max(lastAt, at);
      addCounts(total, entry);
    },
  });
  const cpu = startCpu();
  const extra = process.env.BENCH_WORKER_ARGS?.split(' ').filter(Boolean) ?? [];
  const workers = await Promise.all(
    Array.from({ length: WORKERS }, () =>
      timeChild([path.join(projectRoot(), 'bin', 'c360.js'), 'run', '--topology', file, '--ops-port', '0', ...extra], () => total.in >= TOTAL),
    ),
  );
  const worker = {
    ms: Math.max(...workers.map((w) => w.ms)),
    peakRssMiB: Math.max(...workers.map((w) => w.peakRssMiB)),
    cpuSeconds: workers.reduce((n, w) => n + w.cpuSeconds, 0),
  };
  const used = cpu.read();
  await ledger.disconnect();
  fs.rmSync(file, { force: true });
  if (total.in < TOTAL) {
    console.log(`${label.padEnd(12)} the worker exited after ${total.in} of ${TOTAL} records (peak RSS ${worker.peakRssMiB.toFixed(0)} MiB): not measured`);
    process.exit(1);
  }
  const elapsed = worker.ms;
  const running = Math.max(1, lastAt - firstAt);
  const afterFirst = TOTAL - (first?.in ?? 0);
  console.log(
    `${label.padEnd(12)} ${TOTAL} records in ${(elapsed / 1000).toFixed(1)} s = ${Math.round(TOTAL / (elapsed / 1000))} records/s; ` +
      `${Math.round(afterFirst / (running / 1000))} records/s after the first committed batch; ${WORKERS === 1 ? 'worker (c360 run)' : `largest of ${WORKERS} workers (c360 run)`} peak RSS ${worker.peakRssMiB.toFixed(0)} MiB`,
  );
  console.log(`${''.padEnd(12)} ${describeCpu({ worker: worker.cpuSeconds, kafka: used.kafka, redis: used.redis }, TOTAL)}`);
  const us = (seconds: number | undefined) => ((seconds ?? 0) * 1e6) / TOTAL;
  return { rate: afterFirst / (running / 1000), total, cpuUs: { worker: us(worker.cpuSeconds), kafka: us(used.kafka), redis: us(used.redis) } };
}

/** kcat on PATH, installed with apt-get when missing and this runs as root; undefined (with the reason) when it cannot be. */
function kcatAvailable(): string | undefined {
  const found = () => spawnSync('kcat', ['-V'], { encoding: 'utf8' }).status === 0;
  if (found()) return undefined;
  if (process.getuid?.() !== 0) return 'kcat is not installed (Debian: apt-get install kcat), and this is not root to install it';
  const apt = spawnSync('bash', ['-c', 'apt-get install -y -qq kcat || (apt-get update -qq && apt-get install -y -qq kcat)'], {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return found() ? undefined : `installing kcat failed: ${(apt.stderr || apt.stdout).trim().split('\n').at(-1)}`;
}

/**
 * kcat consuming each input topic from the beginning and producing its records again to a copy
 * topic, keys and values (not headers), acks=all and idempotent: what the machine does with these
 * records and no processing at all. Multi-byte delimiters keep binary Avro values whole.
 */
async function kcatBaseline(namespace: string): Promise<number | undefined> {
  const missing = kcatAvailable();
  if (missing) {
    console.log(`kcat         baseline not measured: ${missing}`);
    return undefined;
  }
  const names = topicNames(namespace);
  const copy = `${namespace}.kcat-copy`;
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: copy, numPartitions: 3 }]);
  const brokers = config.kafka.brokers.join(',');
  const delimiters = `-K '\\x1e\\x1f' -D '\\x1d\\x1c\\x1d'`;
  const cpu = startCpu();
  const t0 = performance.now();
  let kcatSeconds = 0;
  for (const topic of [names.ingest('crm'), names.ingest('web')]) {
    // bash's `time` gives the pipeline's user and system CPU seconds.
    const pipeline = `TIMEFORMAT='%U %S'; time (kcat -C -b ${brokers} -t ${topic} -o beginning -e -q ${delimiters} | kcat -P -b ${brokers} -t ${copy} ${delimiters} -X acks=all -X enable.idempotence=true)`;
    const run = spawnSync('bash', ['-c', pipeline], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const [user, system] = (run.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
    if (run.status !== 0 || !Number.isFinite(user) || !Number.isFinite(system)) throw new Error(`kcat failed on ${topic}: ${run.stderr.trim().slice(-500)}`);
    kcatSeconds += user! + system!;
  }
  const elapsed = performance.now() - t0;
  const used = cpu.read();
  const copied = (await admin.fetchTopicOffsets(copy)).reduce((n, p) => n + Number(p.high), 0);
  await admin.disconnect();
  const rate = copied / (elapsed / 1000);
  console.log(
    `kcat         ${copied} records consumed and produced again (acks=all, idempotent) in ${(elapsed / 1000).toFixed(1)} s = ${Math.round(rate)} records/s`,
  );
  console.log(`${''.padEnd(12)} ${describeCpu({ kcat: kcatSeconds, kafka: used.kafka }, copied)}`);
  if (copied !== TOTAL) console.log(`${''.padEnd(12)} (copied ${copied} of ${TOTAL}: not comparable)`);
  return rate;
}

await requireStack();
const redis = new Redis(config.redisUrl);
const startCpu = await cpuMeter(config, redis);
const run = Date.now().toString(36);
const passNs = `bench-pass-${run}`;
const fullNs = `bench-full-${run}`;
const pass = await prepare(passNs, 'none');
const full = await prepare(fullNs, 'all');
console.log(
  `bench:topology — ${TOTAL} synthetic records (half CRM profiles, half web events, ${ENCODING === 'json' ? 'JSON' : 'Confluent-framed Avro'}), ${WORKERS === 1 ? 'one worker' : `${WORKERS} worker processes`} (${childBudget()}), Node ${process.version}`,
);
// Generated anew for each namespace and dropped once produced, so the workers measured do not share a heap with a million messages.
const producedMs: number[] = [];
for (const ns of [passNs, fullNs]) {
  const data = synthetic(TOTAL, full.ingestIds);
  if (ns === passNs) {
    console.log(
      `input: crm ${data.crm.messages.length} (${data.crm.expected.duplicates} exact duplicates, ${data.crm.expected.nearDuplicates} near-duplicates, ${data.crm.expected.invalid} invalid), web ${data.web.messages.length} (${data.web.expected.duplicates} duplicates, ${data.web.expected.invalid} invalid)`,
    );
  }
  producedMs.push(await produceAll(ns, data));
}
console.log(`pre-produced twice in ${(producedMs[0]! / 1000).toFixed(1)} s and ${(producedMs[1]! / 1000).toFixed(1)} s`);

const kcat = await kcatBaseline(passNs);
const baseline = await measure('passthrough', pass.topology);
const result = await measure('full', full.topology);
const t = result.total;
console.log(
  `full ledger: in=${t.in} raw=${t.raw} duplicates=${t.duplicates} dead_letter=${t.dead_letter} suppressed=${t.suppressed} near_duplicates=${t.near_duplicates} ${balanced(t) ? 'balanced' : 'NOT BALANCED'}`,
);
console.log(`ratio full / passthrough (after start-up): ${(result.rate / baseline.rate).toFixed(2)}`);
// Where the full topology's CPU per record goes: what moving records costs at all (the passthrough's worker and broker), what the stages ask of Redis, and the stages' own work in the worker.
const [p, f] = [baseline.cpuUs, result.cpuUs];
console.log(
  `full's CPU per record: moving the records (passthrough worker + broker) ${Math.round(p.worker + p.kafka)} µs, Redis ${Math.round(f.redis)} µs, ` +
    `the stages in the worker (full worker − passthrough worker) ${Math.round(f.worker - p.worker)} µs, the broker's extra ${Math.round(f.kafka - p.kafka)} µs`,
);
if (kcat) console.log(`ratio to kcat: passthrough ${(baseline.rate / kcat).toFixed(2)}, full ${(result.rate / kcat).toFixed(2)}`);
// What the full topology keeps in Redis for the window, per record it took in: what a production Redis must hold.
const state = await redisBytes(redis, fullNs);
const stateTotal = [...state.values()].reduce((n, s) => n + s.bytes, 0);
// How compact Redis keeps small hashes decides the figure (docs/topology.md, What Redis holds).
const listpack = ((await redis.config('GET', 'hash-max-listpack-*').catch(() => [])) as string[]).join(' ');
console.log(
  `state: ${Math.round(stateTotal / TOTAL)} B per record in Redis (${[...state].map(([kind, s]) => `${kind} ${Math.round(s.bytes / TOTAL)} B in ${s.keys} keys`).join(', ')}; ${listpack || 'listpack settings not readable'})`,
);
await dropRedisKeys(redis, fullNs);
redis.disconnect();
await dropTopics(kafka, [passNs, fullNs]);
process.exit(0);
