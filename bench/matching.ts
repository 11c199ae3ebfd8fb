/**
 * bench:matching — precision and recall of near-duplicate flags on a labelled customer base
 * (bench/customers.ts). First in-process: the stage's blocking rules find candidate pairs, a
 * Fellegi–Sunter model trained without labels (src/matching/train.ts) scores them, printed as
 * blocking alone (every candidate flagged) beside the model at several probability thresholds.
 * Then the real near-duplicate stage against Redis with that model and the default threshold:
 * the NearDuplicate events it emits, scored against the truth, flags per 1,000 records, and its
 * CPU µs per record (this process + Redis). Last, in-process with the same model, a second base of the
 * same people whose duplicates carry only ordinary changes (typos, letter case, a phone's format).
 * BENCH_RECORDS sets the size (default 50,000), BENCH_SEED the generator's seed (default 42); BENCH_MODEL_OUT=file writes the trained model
 * (src/matching/default-model.json is made so); BENCH_FP=1 prints the commonest comparison
 * patterns of the stage's false positives.
 */
import fs from 'node:fs';
import type { KafkaMessage } from 'kafkajs';
import { localStackDefaults } from '../dev/stack/ensure.js';
import { loadConfig } from '../src/config.js';
import { readLineage } from '../src/contracts/lineage.js';
import { topologySchema } from '../src/contracts/topology-definition.js';
import { BLOCKING_RULES, candidatePairs } from '../src/matching/blocking.js';
import { CUSTOMER_COMPARISONS, profileOf } from '../src/matching/comparisons.js';
import { scorePair, type TermFrequency } from '../src/matching/model.js';
import { trainModel } from '../src/matching/train.js';
import { createLogger } from '../src/observability/logger.js';
import { pseudonymsFrom } from '../src/privacy/pseudonyms.js';
import { compilePrimaryEntity } from '../src/schema/entity.js';
import { WriterSchemas } from '../src/schema/registry.js';
import { type Envelope, newEnvelope } from '../src/stages/envelope.js';
import { nearDuplicateStage } from '../src/stages/near-duplicates.js';
import { createRedis } from '../src/storage/redis.js';
import { loadTopology } from '../src/topology/load.js';
import { dropRedisKeys } from './cleanup.js';
import { cpuMeter, describeCpu } from './cpu.js';
import { customerBase, type LabelledRecord } from './customers.js';

localStackDefaults();

const RECORDS = Number(process.env.BENCH_RECORDS ?? 50_000);
const THRESHOLDS = [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99];
const BATCH = 4000;

const cpuSeconds = (start: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
};

const SEED = Number(process.env.BENCH_SEED ?? 42);
const records = customerBase({ records: RECORDS, seed: SEED });
const profiles = records.map(profileOf);
const config = loadConfig();
const namespace = `bench-matching-${Date.now().toString(36)}`;
const topology = await loadTopology('customer360', { namespace });
const cap = topology.nearDuplicateRefsPerKey;
const threshold = topologySchema.shape.matching.parse(undefined).threshold;

// Training, without labels, on the records as the stage will see them.
const trainStart = process.cpuUsage();
const model = trainModel(profiles, { cap });
const trainCpu = cpuSeconds(trainStart);
if (process.env.BENCH_MODEL_OUT) fs.writeFileSync(process.env.BENCH_MODEL_OUT, `${JSON.stringify(model, null, 2)}\n`);

// The truth: every pair of records of one person.
function truthOf(base: LabelledRecord[]) {
  const byPerson = new Map<number, number>();
  for (const r of base) byPerson.set(r.person, (byPerson.get(r.person) ?? 0) + 1);
  return {
    base,
    people: byPerson.size,
    pairs: [...byPerson.values()].reduce((n, k) => n + (k * (k - 1)) / 2, 0),
    same: (i: number, j: number) => base[i]!.person === base[j]!.person,
  };
}
const truth = truthOf(records);
const { same, pairs: truePairs } = truth;

const line = (label: string, flagged: ReadonlyArray<readonly [number, number]>, t = truth) => {
  const tp = flagged.filter(([i, j]) => t.same(i, j)).length;
  const precision = flagged.length ? tp / flagged.length : 1;
  const recall = t.pairs ? tp / t.pairs : 1;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  console.log(
    `${label.padEnd(34)} flags/1k ${((flagged.length / t.base.length) * 1000).toFixed(1).padStart(7)}  precision ${precision.toFixed(3)}  recall ${recall.toFixed(3)} (${tp} of ${t.pairs})  F1 ${f1.toFixed(3)}`,
  );
};

console.log(`bench:matching — ${records.length} records of ${truth.people} people (seed ${SEED}), ${truePairs} true duplicate pairs, Node ${process.version}`);
console.log(`model: trained without labels in ${trainCpu.toFixed(2)} s CPU; prior ${model.prior} among candidate pairs`);
for (const c of CUSTOMER_COMPARISONS) {
  const p = model.comparisons[c.name]!;
  console.log(`  ${c.name.padEnd(12)} ${c.levels.map((l, k) => `${l} m=${p.m[k]!.toFixed(3)} u=${p.u[k]!.toFixed(4)}`).join('; ')}`);
}

// In-process: every candidate pair the blocking rules find, scored with term frequencies among the records.
function scoredPairs(base: ReturnType<typeof profileOf>[]) {
  const counts = new Map<string, number>();
  for (const p of base) for (const f of ['first_name', 'last_name'] as const) if (p[f]) counts.set(`${f}:${p[f]}`, (counts.get(`${f}:${p[f]}`) ?? 0) + 1);
  const termFrequency: TermFrequency = (field, value) => {
    const n = counts.get(`${field}:${value}`);
    return n ? n / base.length : undefined;
  };
  const candidates = candidatePairs(base, BLOCKING_RULES, cap).all;
  const scored = candidates.map(([i, j]) => [i, j, scorePair(base[i]!, base[j]!, model, termFrequency).probability] as const);
  const atLeast = (t: number) => scored.filter((s) => s[2] >= t).map(([i, j]) => [i, j] as const);
  return { candidates, atLeast };
}
const { candidates, atLeast } = scoredPairs(profiles);
console.log(`\nin-process: ${candidates.length} candidate pairs, blocking recall ${(candidates.filter(([i, j]) => same(i, j)).length / truePairs).toFixed(3)}`);
line('blocking alone (every candidate)', candidates);
for (const t of THRESHOLDS) line(`model, probability ≥ ${t}${t === threshold ? ' (default)' : ''}`, atLeast(t));

// The stage itself, against Redis, with the trained model and the default threshold.
topology.matching = { threshold, model };
const crm = compilePrimaryEntity(topology.sources.find((s) => s.name === 'crm')!);
const redis = createRedis(config, createLogger('warn'));
await redis.connect();
const stage = nearDuplicateStage.create({
  topology,
  entities: new Map([['crm', crm]]),
  entitiesOfSource: new Map([['crm', [crm]]]),
  redis,
  writerSchemas: new WriterSchemas(config),
  pseudonyms: pseudonymsFrom(config, 'bench:matching'),
  keyStore: undefined,
  cacheEntries: config.memory.cacheEntries,
  readChangelog: async () => undefined,
  now: Date.now,
});
const topic = `${namespace}.ingest.crm`;
const days = (iso: string | number | undefined) => (typeof iso === 'string' ? Date.parse(`${iso}T00:00:00Z`) / 86_400_000 : null);
const envelopes = records.map((r, i): Envelope => {
  const message = {
    key: Buffer.from(`C${i}`),
    value: Buffer.alloc(0),
    headers: {},
    offset: String(i),
    timestamp: '0',
    attributes: 0,
  } as unknown as KafkaMessage;
  const e = newEnvelope(crm, topic, 0, message, readLineage(message, topic, 0, 'crm'));
  e.value = {
    customer_id: `C${i}`,
    email: r.email ?? '',
    first_name: r.firstName ?? null,
    last_name: r.lastName ?? null,
    phone: r.phone ?? null,
    birth_date: days(r.birthDate),
    address: { line1: r.address ?? null, line2: null, city: 'Paris', region: null, postal_code: r.postalCode ?? null, country: 'FR' },
    loyalty_id: r.loyaltyId ?? null,
    device_id: r.deviceId ?? null,
  };
  return e;
});
// Every field the stage can compare; the CRM entity carries no device id, so it is read from the bench's extra field.
crm.definition.nearDuplicates = {
  ...crm.definition.nearDuplicates!,
  birthDate: 'birth_date',
  address: 'address.line1',
  loyaltyId: 'loyalty_id',
  deviceId: 'device_id',
};
const control = { heartbeat: async () => undefined, isRunning: () => true };
const meter = (await cpuMeter(config, redis))();
for (let from = 0; from < envelopes.length; from += BATCH) await stage.process(envelopes.slice(from, from + BATCH), control);
const cpu = meter.read();
delete cpu.kafka;
const flagged = new Map<string, [number, number]>();
for (const e of envelopes)
  for (const n of e.nearDuplicates) {
    const [i, j] = [Number(n.record.natural_id.slice(1)), Number(n.matched.natural_id.slice(1))];
    flagged.set(`${Math.min(i, j)}:${Math.max(i, j)}`, [i, j]);
  }
const below = envelopes.reduce((n, e) => n + e.nearDuplicateCandidatesBelowThreshold, 0);
console.log(`\nthe near_duplicates stage against Redis (batches of ${BATCH}, key cap ${cap}, term frequencies observed in Redis):`);
line(`stage, probability ≥ ${threshold} (default)`, [...flagged.values()]);
console.log(`candidates below the threshold (counted, not emitted): ${below}`);
console.log(`stage CPU: ${describeCpu(cpu, records.length)}`);
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
if (process.env.BENCH_FP) {
  const patterns = new Map<string, number>();
  for (const [i, j] of flagged.values()) {
    if (same(i, j)) continue;
    const key = Object.entries(scorePair(profiles[i]!, profiles[j]!, model).levels)
      .map(([k, v]) => `${k}=${v ?? '-'}`)
      .join(' ');
    patterns.set(key, (patterns.get(key) ?? 0) + 1);
  }
  for (const [k, n] of [...patterns].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(n, k);
}

// Ordinary duplicates only, the same people (same seed), scored in-process with the model trained above.
const ordinary = truthOf(customerBase({ records: RECORDS, seed: SEED, changes: 'ordinary' }));
const ordinaryPairs = scoredPairs(ordinary.base.map(profileOf));
console.log(`\nordinary duplicates only (typos, letter case, phone formats; ${ordinary.pairs} true pairs), in-process with the same model:`);
line('blocking alone (every candidate)', ordinaryPairs.candidates, ordinary);
line(`model, probability ≥ ${threshold} (default)`, ordinaryPairs.atLeast(threshold), ordinary);
await dropRedisKeys(redis, namespace);
redis.disconnect();
process.exit(0);
