/**
 * bench:stages — CPU cost per record of each stage and of routing, in-process (Redis on loopback,
 * no Kafka), on the synthetic input of bench:topology. Each line is µs per record; the baseline is
 * building the envelopes (lineage), which every topology pays. BENCH_RECORDS sets the size (default 100,000).
 * BENCH_ALLOCATIONS=1 adds the bytes each stage allocates per record, garbage included (V8's
 * sampling heap profiler, one sample per 16 KiB): what the garbage collector then pays for. The
 * sampling costs CPU, so its run's times are not comparable with a run without it.
 */

import { createHash } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import bloomFilters from 'bloom-filters';
import type { KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { localStackDefaults } from '../dev/stack/ensure.js';
import { loadConfig } from '../src/config.js';
import { checkLineage } from '../src/contracts/lineage.js';
import { topicNames } from '../src/contracts/topic-names.js';
import { createLogger } from '../src/observability/logger.js';
import { openKeyStore } from '../src/privacy/key-store.js';
import { pseudonymsFrom } from '../src/privacy/pseudonyms.js';
import { loadSchema } from '../src/schema/avro.js';
import { compilePrimaryEntity } from '../src/schema/entity.js';
import { createSchemaRegistry, WriterSchemas } from '../src/schema/registry.js';
import { type Envelope, newEnvelope } from '../src/stages/envelope.js';
import { STAGES } from '../src/stages/index.js';
import type { StageContext } from '../src/stages/stage.js';
import { createRedis } from '../src/storage/redis.js';
import { loadTopology } from '../src/topology/load.js';
import { route } from '../src/topology/router.js';
import { registerTopologySchemas } from '../src/topology/setup.js';
import { dropRedisKeys } from './cleanup.js';
import { synthetic } from './synthetic.js';

// Benchmarks run on the local stack's single broker: one replica per topic, created by the workers (unless the environment says otherwise).
localStackDefaults();

const TOTAL = Number(process.env.BENCH_RECORDS ?? 100_000);
const BATCH = 4000;
const config = loadConfig();
const namespace = `bench-stages-${Date.now().toString(36)}`;
const topology = await loadTopology('customer360', { namespace });
topology.sources = topology.sources.filter((s) => s.name === 'crm' || s.name === 'web');
const sources = new Map(topology.sources.map((s) => [s.name, compilePrimaryEntity(s)]));
const ids = await registerTopologySchemas(createSchemaRegistry(config), topology, sources.values());
const redis = createRedis(config, createLogger('warn'));
await redis.connect();
const ctx: StageContext = {
  topology,
  entities: sources,
  entitiesOfSource: new Map([...sources].map(([name, s]) => [name, [s]])),
  redis,
  writerSchemas: new WriterSchemas(config),
  pseudonyms: pseudonymsFrom(config, 'bench:stages'),
  keyStore: openKeyStore(config, namespace),
  cacheEntries: config.memory.cacheEntries,
  // No Kafka here: the dedup state starts from an empty changelog.
  readChangelog: async () => undefined,
  now: Date.now,
};
const stages = topology.stages.map((name) => STAGES.require(name, 'topology stages').create(ctx));
const data = synthetic(TOTAL, { crm: ids.ingest.get('crm')!, web: ids.ingest.get('web')! });
const names = topicNames(namespace);
const router = {
  topologyName: topology.name,
  topics: names,
  rawSchemaIds: ids.raw,
  deadLetter: { id: ids.deadLetter, ...loadSchema('DeadLetter'), maxMessageBytes: 1_048_588 },
  nearDuplicate: { id: ids.nearDuplicate, type: loadSchema('NearDuplicate').type },
  now: Date.now,
};
const bloom = bloomFilters.BloomFilter.create(TOTAL * 10, 0.01);
const control = { heartbeat: async () => undefined, isRunning: () => true };
const spent = new Map<string, number>();
const cpu = new Map<string, number>();
const allocated = new Map<string, number>();
const sampler = process.env.BENCH_ALLOCATIONS === '1' ? await heapSampler() : undefined;

/** Runs one section of the work, adding its wall and CPU time (and its allocations when sampled) under `k`. */
async function timed(k: string, work: () => unknown): Promise<void> {
  await sampler?.start();
  const cpuMark = process.cpuUsage();
  const t = performance.now();
  await work();
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpuMark);
  cpu.set(k, (cpu.get(k) ?? 0) + (used.user + used.system) / 1000);
  spent.set(k, (spent.get(k) ?? 0) + ms);
  if (sampler) allocated.set(k, (allocated.get(k) ?? 0) + (await sampler.stop()));
}

/** V8's sampling heap profiler, counting what is collected too: bytes allocated between start and stop. */
async function heapSampler() {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  type Node = { selfSize: number; children: Node[] };
  const bytes = (n: Node): number => n.children.reduce((sum, c) => sum + bytes(c), n.selfSize);
  return {
    start: () =>
      session.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }),
    stop: async () => bytes((await session.post('HeapProfiler.stopSampling')).profile.head as Node),
  };
}
void new Registry();

for (const source of ['crm', 'web'] as const) {
  const messages = data[source].messages;
  for (let from = 0; from < messages.length; from += BATCH) {
    const slice = messages.slice(from, from + BATCH);
    const topic = names.ingest(source);
    let batch: Envelope[] = [];
    await timed('envelopes + lineage (baseline)', () => {
      batch = slice.map((m, i) => {
        const message = {
          key: Buffer.from(String(m.key)),
          value: m.value as Buffer,
          headers: {},
          offset: String(from + i),
          timestamp: String(Date.now()),
          attributes: 0,
        } as unknown as KafkaMessage;
        const { lineage, problem } = checkLineage(message, topic, 0, source);
        return newEnvelope(sources.get(source)!, topic, 0, message, lineage, problem);
      });
    });
    for (const stage of stages) await timed(stage.name, () => stage.process(batch, control));
    await timed('route (encode, frame, headers)', () => route(router, batch));
    // What a bloom filter in front of Redis would add: a lookup and an insert per record. It cannot
    // save the Redis claim (a new record must still be claimed for other workers to see it, and a
    // "maybe" must still ask Redis), so this is pure cost; measured here, not assumed.
    await timed('bloom-filters has+add (not used)', () => {
      for (const e of batch) {
        if (!e.body) continue;
        const digest = createHash('sha1').update(e.body).digest('base64url');
        if (!bloom.has(digest)) bloom.add(digest);
      }
    });
  }
}
console.log(`bench:stages — ${TOTAL} records (half CRM, half web), batches of ${BATCH}, Node ${process.version}`);
console.log(`${'per record'.padEnd(32)} ${'wall µs'.padStart(8)} ${'CPU µs'.padStart(8)}  wall vs baseline${sampler ? '  allocated B' : ''}`);
const base = spent.get('envelopes + lineage (baseline)')!;
const us = (ms: number) => ((ms * 1000) / TOTAL).toFixed(1).padStart(8);
const bytes = (k: string) => (sampler ? `  ${(allocated.get(k)! / TOTAL).toFixed(0).padStart(11)}` : '');
for (const [k, ms] of spent) console.log(`${k.padEnd(32)} ${us(ms)} ${us(cpu.get(k)!)}  ${(ms / base).toFixed(1).padStart(5)}×${bytes(k)}`);
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const inUse = (m: Map<string, number>) => sum(new Map([...m].filter(([k]) => !k.includes('(not used)'))));
const allocatedInUse = sampler ? `  ${(inUse(allocated) / TOTAL).toFixed(0).padStart(25)}` : '';
console.log(`${'all stages in use'.padEnd(32)} ${us(inUse(spent))} ${us(inUse(cpu))}${allocatedInUse}`);
// In-process: the input, every batch's envelopes and the stages' caches together, without the launcher's heap flags.
console.log(`peak RSS of this process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (input included)`);
await dropRedisKeys(redis, namespace);
redis.disconnect();
process.exit(0);
