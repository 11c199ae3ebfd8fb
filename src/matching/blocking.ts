/**
 * Blocking: the keys that choose which pairs of records are compared at all. A key is built from a
 * comparison profile; records sharing one are candidate pairs. The near-duplicate stage keeps each
 * key in Redis (as a pseudonym) with the identities seen with it; training finds its pairs here.
 */
import type { BlockingKey } from '../contracts/topology-definition.js';
import { type ComparisonProfile, phoneTail } from './comparisons.js';
import { nameSound } from './similarity.js';

export interface BlockingRule {
  /** The comparisons whose agreement the rule forces: training leaves them out of that rule's pairs. */
  blockedOn: readonly string[];
  key(p: ComparisonProfile): string | undefined;
}

const joined = (...parts: Array<string | undefined>) => (parts.every((x) => x) ? parts.join('|') : undefined);
const sound = (s: string | undefined) => (s ? nameSound(s) || undefined : undefined);

/** The stage's blocking keys. */
export const BLOCKING_RULES: Readonly<Record<BlockingKey, BlockingRule>> = {
  email: { blockedOn: ['email'], key: (p) => p.email },
  // By its last 9 digits, so that a number written nationally (without C360_PHONE_REGION) meets its E.164 form.
  phone: { blockedOn: ['phone'], key: (p) => (p.phone ? phoneTail(p.phone) || undefined : undefined) },
  device_id: { blockedOn: ['device_id'], key: (p) => p.device_id },
  name_postal: { blockedOn: ['last_name', 'postal_code'], key: (p) => joined(sound(p.last_name), p.postal_code) },
  name_birth: { blockedOn: ['first_name', 'birth_date'], key: (p) => joined(sound(p.first_name), p.birth_date) },
};

/**
 * The rules m is trained on: their pairs are mostly one person or clearly not. A surname in a
 * postcode, a landline or a company mailbox find households and colleagues, real clusters EM would
 * take for the matches (Splink's training rules are chosen so too).
 */
export const TRAINING_RULES: Readonly<Record<string, BlockingRule>> = {
  name_birth: BLOCKING_RULES.name_birth,
  surname_email: { blockedOn: ['last_name', 'email'], key: (p) => joined(sound(p.last_name), p.email) },
};

export type Pair = [number, number];

/**
 * Pairs of profiles sharing a key of the rules, each against the earlier ones as the stage meets
 * them; a key already shared by `cap` profiles is too common to say anything and finds no more.
 * All pairs once, and each rule's own.
 */
export function candidatePairs(
  profiles: readonly ComparisonProfile[],
  rules: Readonly<Record<string, BlockingRule>>,
  cap: number,
): { all: Pair[]; byRule: Map<string, Pair[]> } {
  const seen = new Map<string, number[]>();
  const all: Pair[] = [];
  const byRule = new Map(Object.keys(rules).map((r) => [r, [] as Pair[]]));
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
      if (earlier.length >= cap) continue;
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
