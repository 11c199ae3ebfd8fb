/**
 * Estimating a match model without labels, as Splink does: u from random pairs (nearly all of
 * them different people), then m and the prior by expectation–maximisation over the candidate
 * pairs blocking finds, u held fixed.
 */
import { type Comparison, CUSTOMER_COMPARISONS } from './comparisons.js';
import type { LevelProbabilities, MatchModel } from './model.js';

type Vector = readonly (number | null)[];

/** Level shares with add-one smoothing, so that no level is impossible. */
function shares(counts: number[], total: number): number[] {
  return counts.map((n) => (n + 1) / (total + counts.length));
}

/** u per comparison: how often random pairs reach each level. */
export function estimateU(randomPairs: Iterable<Vector>, comparisons: readonly Comparison[] = CUSTOMER_COMPARISONS): number[][] {
  const counts = comparisons.map((c) => new Array<number>(c.levels.length).fill(0));
  const totals = comparisons.map(() => 0);
  for (const v of randomPairs) {
    v.forEach((level, i) => {
      if (level === null) return;
      counts[i]![level]!++;
      totals[i]!++;
    });
  }
  return counts.map((c, i) => shares(c, totals[i]!));
}

export interface TrainingSession {
  /** Candidate pairs found by one blocking rule. */
  pairs: readonly Vector[];
  /** The comparisons that rule blocked on: its pairs agree there by construction, so this session leaves them out. */
  blockedOn: readonly string[];
}

export interface EmOptions {
  iterations?: number;
  /** Starting share of matches among a session's pairs. */
  prior?: number;
}

/**
 * m by EM, one session per training rule, u fixed at the random pairs' shares; a comparison's m is
 * the mean over the sessions that did not block on it (Splink's way: agreement a rule forces says
 * nothing about m). Then u as it is among the candidate pairs the stage scores, by EM with m
 * fixed, and the prior with it: households and colleagues make agreeing on an address, a
 * landline or a surname common among candidates that are different people, which u from random
 * pairs (where such agreement is rare) would count as strong evidence of one person.
 */
export function estimateModel(
  sessions: readonly TrainingSession[],
  candidatePairs: readonly Vector[],
  randomU: number[][],
  comparisons: readonly Comparison[] = CUSTOMER_COMPARISONS,
  options: EmOptions = {},
): MatchModel {
  const iterations = options.iterations ?? 30;
  const estimates = comparisons.map(() => [] as number[][]);
  for (const session of sessions) {
    const active = comparisons.map((c) => !session.blockedOn.includes(c.name));
    // Start: records of one person mostly agree exactly, the rest spread over the other levels.
    let m = comparisons.map((c) => c.levels.map((_, l) => (l === 0 ? 0.8 : 0.2 / (c.levels.length - 1))));
    let prior = options.prior ?? 0.3;
    for (let iteration = 0; iteration < iterations; iteration++) {
      const counts = comparisons.map((c) => new Array<number>(c.levels.length).fill(0));
      const totals = comparisons.map(() => 0);
      let matches = 0;
      for (const v of session.pairs) {
        const p = matchProbability(v, m, randomU, prior, active);
        matches += p;
        v.forEach((level, i) => {
          if (level === null || !active[i]) return;
          counts[i]![level]! += p;
          totals[i]! += p;
        });
      }
      prior = clamp(matches / Math.max(session.pairs.length, 1));
      m = counts.map((c, i) => (active[i] ? shares(c, totals[i]!) : m[i]!));
    }
    m.forEach((levels, i) => {
      if (active[i]) estimates[i]!.push(levels);
    });
  }
  const m = comparisons.map((c, i) => {
    const found = estimates[i]!;
    if (found.length === 0) return c.levels.map((_, l) => (l === 0 ? 0.8 : 0.2 / (c.levels.length - 1)));
    return c.levels.map((_, l) => found.reduce((sum, e) => sum + e[l]!, 0) / found.length);
  });
  // u among candidates: starting from all of them (most candidate pairs are different people), then their non-match share.
  const all = comparisons.map(() => true);
  let u = estimateU(candidatePairs, comparisons);
  let prior = options.prior ?? 0.1;
  for (let iteration = 0; iteration < iterations; iteration++) {
    const counts = comparisons.map((c) => new Array<number>(c.levels.length).fill(0));
    const totals = comparisons.map(() => 0);
    let matches = 0;
    for (const v of candidatePairs) {
      const p = matchProbability(v, m, u, prior, all);
      matches += p;
      v.forEach((level, i) => {
        if (level === null) return;
        counts[i]![level]! += 1 - p;
        totals[i]! += 1 - p;
      });
    }
    prior = clamp(matches / Math.max(candidatePairs.length, 1));
    u = counts.map((c, i) => shares(c, totals[i]!));
  }
  const parameters: Record<string, LevelProbabilities> = {};
  comparisons.forEach((c, i) => {
    parameters[c.name] = { m: m[i]!, u: u[i]!, ...(c.termFrequency ? { randomExact: randomU[i]![0]! } : {}) };
  });
  return { prior, comparisons: parameters };
}

const clamp = (p: number) => Math.min(Math.max(p, 1e-6), 1 - 1e-6);

function matchProbability(v: Vector, m: number[][], u: number[][], prior: number, active: readonly boolean[]): number {
  let logM = Math.log(prior);
  let logU = Math.log(1 - prior);
  v.forEach((level, i) => {
    if (level === null || !active[i]) return;
    logM += Math.log(m[i]![level]!);
    logU += Math.log(u[i]![level]!);
  });
  return 1 / (1 + Math.exp(logU - logM));
}
