/**
 * Estimating a match model without labels, as Splink does: u from random pairs (nearly all of
 * them different people), m by expectation–maximisation over the pairs training rules find, then
 * u and the prior among the candidate pairs the stage scores (estimateModel says why).
 */
import type { BlockingKey, MatchModel } from '../contracts/topology-definition.js';
import { BLOCKING_RULES, candidatePairs, type Pair, TRAINING_RULES } from './blocking.js';
import { type Comparison, type ComparisonProfile, CUSTOMER_COMPARISONS, compare } from './comparisons.js';
import type { LevelProbabilities } from './model.js';

type Vector = readonly (number | null)[];

/**
 * Each comparison's level shares among the pairs, each pair counted with its weight (1, or the
 * probability it is a match or not), with add-one smoothing so that no level is impossible;
 * comparisons not `active` are left out. Also the sum of the weights.
 */
function weightedShares(
  pairs: Iterable<Vector>,
  comparisons: readonly Comparison[],
  weight: (v: Vector) => number,
  active?: readonly boolean[],
): { shares: number[][]; weights: number } {
  const counts = comparisons.map((c) => new Array<number>(c.levels.length).fill(0));
  const totals = comparisons.map(() => 0);
  let weights = 0;
  for (const v of pairs) {
    const w = weight(v);
    weights += w;
    v.forEach((level, i) => {
      if (level === null || (active && !active[i])) return;
      counts[i]![level]! += w;
      totals[i]! += w;
    });
  }
  return { shares: counts.map((c, i) => c.map((n) => (n + 1) / (totals[i]! + c.length))), weights };
}

/** u per comparison: how often random pairs reach each level. */
export function estimateU(randomPairs: Iterable<Vector>, comparisons: readonly Comparison[] = CUSTOMER_COMPARISONS): number[][] {
  return weightedShares(randomPairs, comparisons, () => 1).shares;
}

const EM_ITERATIONS = 30;

/** Where EM starts m: records of one person mostly agree exactly, the rest spread over the other levels. */
const startingM = (c: Comparison): number[] => c.levels.map((_, l) => (l === 0 ? 0.8 : 0.2 / (c.levels.length - 1)));

interface TrainingSession {
  /** Candidate pairs found by one blocking rule. */
  pairs: readonly Vector[];
  /** The comparisons that rule blocked on: its pairs agree there by construction, so this session leaves them out. */
  blockedOn: readonly string[];
}

/**
 * m by EM, one session per training rule, u fixed at the random pairs' shares; a comparison's m is
 * the mean over the sessions that did not block on it (Splink's way: agreement a rule forces says
 * nothing about m). Then u as it is among the candidate pairs the stage scores, by EM with m
 * fixed, and the prior with it: households and colleagues make agreeing on an address, a
 * landline or a surname common among candidates that are different people, which u from random
 * pairs (where such agreement is rare) would count as strong evidence of one person.
 */
function estimateModel(sessions: readonly TrainingSession[], candidatePairs: readonly Vector[], randomU: number[][]): MatchModel {
  const comparisons = CUSTOMER_COMPARISONS;
  const estimates = comparisons.map(() => [] as number[][]);
  for (const session of sessions) {
    const active = comparisons.map((c) => !session.blockedOn.includes(c.name));
    let m = comparisons.map(startingM);
    // Where EM starts: three in ten of a training rule's pairs one person.
    let prior = 0.3;
    for (let iteration = 0; iteration < EM_ITERATIONS; iteration++) {
      const step = weightedShares(session.pairs, comparisons, (v) => matchProbability(v, m, randomU, prior, active), active);
      prior = clamp(step.weights / Math.max(session.pairs.length, 1));
      m = step.shares.map((levels, i) => (active[i] ? levels : m[i]!));
    }
    m.forEach((levels, i) => {
      if (active[i]) estimates[i]!.push(levels);
    });
  }
  const m = comparisons.map((c, i) => {
    const found = estimates[i]!;
    if (found.length === 0) return startingM(c);
    return c.levels.map((_, l) => found.reduce((sum, e) => sum + e[l]!, 0) / found.length);
  });
  // u among candidates: starting from all of them (most candidate pairs are different people), then their non-match share.
  const all = comparisons.map(() => true);
  let u = estimateU(candidatePairs, comparisons);
  let prior = 0.1;
  for (let iteration = 0; iteration < EM_ITERATIONS; iteration++) {
    const step = weightedShares(candidatePairs, comparisons, (v) => 1 - matchProbability(v, m, u, prior, all));
    // The weights are the non-match probabilities: what is left of the pairs is the matches.
    prior = clamp((candidatePairs.length - step.weights) / Math.max(candidatePairs.length, 1));
    u = step.shares;
  }
  const parameters: Record<string, LevelProbabilities> = {};
  comparisons.forEach((c, i) => {
    parameters[c.name] = { m: m[i]!.map(round), u: u[i]!.map(round), ...(c.termFrequency ? { randomExact: round(randomU[i]![0]!) } : {}) };
  });
  return { prior: round(prior), comparisons: parameters };
}

/** Six significant digits: what a model file needs, and no noise from the last bits of the arithmetic. */
const round = (p: number) => Number(p.toPrecision(6));

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

export interface TrainOptions {
  /** The blocking keys the stage will find candidates with. */
  blocking?: readonly BlockingKey[];
  /** The stage's identities per key (topology nearDuplicateRefsPerKey). */
  cap?: number;
  /** Random pairs u is estimated from. */
  randomPairs?: number;
}

/**
 * A model for profiles as the stage will see them, without labels: u from random pairs, m by EM
 * over the training rules' pairs, then u and the prior among the stage's candidate pairs.
 */
export function trainModel(profiles: readonly ComparisonProfile[], options: TrainOptions = {}): MatchModel {
  const blocking = Object.fromEntries((options.blocking ?? (Object.keys(BLOCKING_RULES) as BlockingKey[])).map((k) => [k, BLOCKING_RULES[k]]));
  const cap = options.cap ?? 10;
  const vectorsOf = (pairs: readonly Pair[]) => pairs.map(([i, j]) => compare(profiles[i]!, profiles[j]!));
  // A fixed LCG, so that training the same sample twice gives the same model.
  let state = 7;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % profiles.length;
  const random = function* (n: number) {
    for (let k = 0; k < n && profiles.length > 1; k++) yield compare(profiles[next()]!, profiles[next()]!);
  };
  const training = candidatePairs(profiles, TRAINING_RULES, cap).byRule;
  return estimateModel(
    Object.entries(TRAINING_RULES).map(([name, rule]) => ({ pairs: vectorsOf(training.get(name)!), blockedOn: rule.blockedOn })),
    vectorsOf(candidatePairs(profiles, blocking, cap).all),
    estimateU(random(options.randomPairs ?? 200_000)),
  );
}
