/**
 * The Fellegi–Sunter model: two records' match weight is the prior log-odds plus, per comparison,
 * log2(m / u) of the level they reached — m the probability of that level for records of one
 * person, u for records of different people. An exact agreement on a value rarer than most (a
 * surname few people have) weighs more, and on a common one less: Splink's term-frequency
 * adjustment, log2 of the average agreeing value's share over this value's. The probability is the
 * weight's logistic.
 */
import { type MatchModel, matchModelSchema } from '../contracts/topology-definition.js';
import { type Comparison, type ComparisonProfile, CUSTOMER_COMPARISONS } from './comparisons.js';
import trained from './default-model.json' with { type: 'json' };

/**
 * The model a topology without its own uses: trained by bench:matching (BENCH_MODEL_OUT) on its
 * synthetic customer base. `c360 matching train` fits one to a source's own raw layer.
 */
export const DEFAULT_MODEL: MatchModel = matchModelSchema.parse(trained);

/** One comparison's parameters: m and u per level, and the term-frequency baseline. */
export type LevelProbabilities = MatchModel['comparisons'][string];

/** How often a value occurs among records (0..1), for the term-frequency adjustment; undefined when unknown. */
export type TermFrequency = (field: keyof ComparisonProfile, value: string) => number | undefined;

export interface PairScore {
  weight: number;
  probability: number;
  /** Each comparison's level name, null where a side lacked the field. */
  levels: Record<string, string | null>;
}

const log2 = Math.log2;

/**
 * Why a model does not fit the comparisons it will score (a comparison it does not know, or other
 * than one m and one u per level of it), or undefined when it fits: an index past its levels
 * would score every pair NaN, silently.
 */
export function modelMismatch(model: MatchModel, comparisons: readonly Comparison[] = CUSTOMER_COMPARISONS): string | undefined {
  for (const [name, p] of Object.entries(model.comparisons)) {
    const c = comparisons.find((x) => x.name === name);
    if (!c) return `comparisons.${name} is not a comparison (known: ${comparisons.map((x) => x.name).join(', ')})`;
    if (p.m.length !== c.levels.length) return `comparisons.${name} must have ${c.levels.length} m and u probabilities, one per level (${c.levels.join(', ')})`;
  }
  return undefined;
}

export function scorePair(
  a: ComparisonProfile,
  b: ComparisonProfile,
  model: MatchModel,
  termFrequency?: TermFrequency,
  comparisons: readonly Comparison[] = CUSTOMER_COMPARISONS,
): PairScore {
  let weight = log2(model.prior / (1 - model.prior));
  const levels: Record<string, string | null> = {};
  for (const c of comparisons) {
    const level = c.level(a, b);
    levels[c.name] = level === null ? null : c.levels[level]!;
    const p = model.comparisons[c.name];
    if (level === null || !p) continue;
    weight += log2(p.m[level]! / p.u[level]!);
    if (level === 0 && c.termFrequency && termFrequency && p.randomExact) {
      const f = termFrequency(c.termFrequency, a[c.termFrequency]!);
      // A value rarer than the average agreeing value weighs more, a commoner one less (Splink: u_exact / tf).
      if (f !== undefined && f > 0) weight += log2(p.randomExact / f);
    }
  }
  return { weight, probability: 1 / (1 + 2 ** -weight), levels };
}
