/**
 * bench:matching — precision and recall of near-duplicate flags on a labelled customer base
 * (bench/customers.ts), in-process: blocking as the near-duplicate stage does it (records sharing
 * a canonical email, a phone, last-name sound + postcode, first-name sound + birth date; a key
 * shared by more identities than the per-key cap says nothing), then a Fellegi–Sunter model
 * trained without labels (u from random pairs, m by EM over the candidate pairs) scoring each
 * candidate pair. Prints blocking alone (today's flags: every candidate pair) beside the model at
 * several probability thresholds, flags per 1,000 records, and CPU µs per record.
 * BENCH_RECORDS sets the size (default 50,000); BENCH_FP=1 also prints the commonest comparison
 * patterns of the false positives at probability 0.9.
 */
import { type ComparisonProfile, CUSTOMER_COMPARISONS, compare, profileOf } from '../src/matching/comparisons.js';
import { scorePair, type TermFrequency } from '../src/matching/model.js';
import { estimateModel, estimateU } from '../src/matching/train.js';
import { namePostalKey, nameSound } from '../src/stages/near-duplicates/keys.js';
import { customerBase } from './customers.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 50_000);
const CAP = 10;
const THRESHOLDS = [0.5, 0.8, 0.9, 0.95, 0.99];

const cpuSeconds = (start: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
};
const sound = (s: string | undefined) => (s ? nameSound(s) : undefined);

/** The stage's blocking rules, and the rules m is trained on; each with the comparisons it forces to agree and its key. */
interface Rule {
  blockedOn: readonly string[];
  key(p: ComparisonProfile): string | undefined;
}
const joined = (...parts: Array<string | undefined>) => (parts.every((x) => x) ? parts.join('|') : undefined);
const BLOCKING: Record<string, Rule> = {
  email: { blockedOn: ['email'], key: (p) => p.email },
  phone: { blockedOn: ['phone'], key: (p) => p.phone },
  // The stage's own key (src/stages/near-duplicates/keys.ts).
  name_postal: { blockedOn: ['last_name', 'postal_code'], key: (p) => (p.last_name && p.postal_code ? namePostalKey(p.last_name, p.postal_code) : undefined) },
  name_birth: { blockedOn: ['first_name', 'birth_date'], key: (p) => joined(sound(p.first_name), p.birth_date) },
};
// m is trained on rules whose pairs are mostly one person or clearly not: a surname in a postcode, a landline or a
// company mailbox find households and colleagues, real clusters EM would take for the matches (Splink's training
// blocking rules are chosen so too).
const TRAINING: Record<string, Rule> = {
  name_birth: BLOCKING.name_birth!,
  surname_email: { blockedOn: ['last_name', 'email'], key: (p) => joined(sound(p.last_name), p.email) },
};

/** Pairs of records sharing a key of the rules, each record against the earlier ones, up to CAP per key. */
function block(
  profiles: readonly ComparisonProfile[],
  rules: Record<string, Rule>,
): { all: Array<[number, number]>; byRule: Map<string, Array<[number, number]>> } {
  const seen = new Map<string, number[]>();
  const all: Array<[number, number]> = [];
  const byRule = new Map(Object.keys(rules).map((r) => [r, [] as Array<[number, number]>]));
  profiles.forEach((p, i) => {
    const found = new Set<number>();
    for (const [name, rule] of Object.entries(rules)) {
      const value = rule.key(p);
      if (!value) continue;
      const key = `${name}:${value}`;
      const earlier = seen.get(key);
      if (!earlier) {
        seen.set(key, [i]);
        continue;
      }
      // The stage keeps identities per key up to the cap; a key shared more widely is too common to say anything.
      if (earlier.length >= CAP) continue;
      for (const j of earlier) {
        found.add(j);
        byRule.get(name)!.push([i, j]);
      }
      earlier.push(i);
    }
    for (const j of found) all.push([i, j]);
  });
  return { all, byRule };
}

const records = customerBase({ records: RECORDS });
const t0 = process.cpuUsage();
const profiles = records.map(profileOf);

// Blocking, in arrival order: each record against the earlier ones that share a key.
const candidates = block(profiles, BLOCKING).all;
const blockingCpu = cpuSeconds(t0);

// Training, without labels.
const randomVectors = function* (n: number) {
  let state = 7;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % profiles.length;
  for (let k = 0; k < n; k++) yield compare(profiles[next()]!, profiles[next()]!);
};
const trainStart = process.cpuUsage();
const u = estimateU(randomVectors(200_000));
const vectorsOf = (pairs: Array<[number, number]>) => pairs.map(([i, j]) => compare(profiles[i]!, profiles[j]!));
const training = block(profiles, TRAINING).byRule;
const model = estimateModel(
  Object.entries(TRAINING).map(([name, rule]) => ({ pairs: vectorsOf(training.get(name)!), blockedOn: rule.blockedOn })),
  vectorsOf(candidates),
  u,
);
const trainCpu = cpuSeconds(trainStart);

const counts = new Map<string, number>();
for (const p of profiles) for (const f of ['first_name', 'last_name'] as const) if (p[f]) counts.set(`${f}:${p[f]}`, (counts.get(`${f}:${p[f]}`) ?? 0) + 1);
const termFrequency: TermFrequency = (field, value) => {
  const n = counts.get(`${field}:${value}`);
  return n ? n / profiles.length : undefined;
};

const scoreStart = process.cpuUsage();
const scored = candidates.map(([i, j]) => ({ i, j, probability: scorePair(profiles[i]!, profiles[j]!, model, termFrequency).probability }));
const scoringCpu = cpuSeconds(scoreStart);

// The truth: every pair of records of one person.
const byPerson = new Map<number, number>();
for (const r of records) byPerson.set(r.person, (byPerson.get(r.person) ?? 0) + 1);
const truePairs = [...byPerson.values()].reduce((n, k) => n + (k * (k - 1)) / 2, 0);
const same = (i: number, j: number) => records[i]!.person === records[j]!.person;
const candidateTrue = candidates.filter(([i, j]) => same(i, j)).length;

const line = (label: string, flagged: Array<{ i: number; j: number }>) => {
  const tp = flagged.filter(({ i, j }) => same(i, j)).length;
  const precision = flagged.length ? tp / flagged.length : 1;
  const recall = truePairs ? tp / truePairs : 1;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  console.log(
    `${label.padEnd(28)} flags/1k ${((flagged.length / records.length) * 1000).toFixed(1).padStart(7)}  precision ${precision.toFixed(3)}  recall ${recall.toFixed(3)}  F1 ${f1.toFixed(3)}`,
  );
};

console.log(`bench:matching — ${records.length} records of ${byPerson.size} people, ${truePairs} true duplicate pairs`);
console.log(
  `blocking: ${candidates.length} candidate pairs (${candidateTrue} true: blocking recall ${(candidateTrue / truePairs).toFixed(3)}), key cap ${CAP}`,
);
console.log(
  `model: prior ${model.prior.toFixed(3)} among candidate pairs (EM, ${CUSTOMER_COMPARISONS.length} comparisons); training ${trainCpu.toFixed(2)} s CPU`,
);
line(
  'blocking alone (today)',
  candidates.map(([i, j]) => ({ i, j })),
);
for (const t of THRESHOLDS)
  line(
    `model, probability ≥ ${t}`,
    scored.filter((s) => s.probability >= t),
  );
const perRecord = (s: number) => ((s / records.length) * 1e6).toFixed(1);
console.log(`CPU per record: profile + blocking ${perRecord(blockingCpu)} µs, scoring ${perRecord(scoringCpu)} µs (in-process, no Redis)`);
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
for (const c of CUSTOMER_COMPARISONS) {
  const p = model.comparisons[c.name]!;
  console.log(`  ${c.name.padEnd(12)} ${c.levels.map((l, k) => `${l} m=${p.m[k]!.toFixed(3)} u=${p.u[k]!.toFixed(4)}`).join('; ')}`);
}
if (process.env.BENCH_FP) {
  const fp = scored.filter((x) => x.probability >= 0.9 && !same(x.i, x.j));
  const patterns = new Map<string, number>();
  for (const x of fp) {
    const s = scorePair(profiles[x.i]!, profiles[x.j]!, model, termFrequency);
    const key = Object.entries(s.levels)
      .map(([k, v]) => `${k}=${v ?? '-'}`)
      .join(' ');
    patterns.set(key, (patterns.get(key) ?? 0) + 1);
  }
  for (const [k, n] of [...patterns].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(n, k);
}
