/**
 * Field comparisons for record linkage, Splink style: each compares one field of two comparison
 * profiles and answers a level, 0 being the strongest agreement and the last "else" (they
 * differ), or null when either side lacks the field (no evidence either way). A Fellegi–Sunter
 * model (model.ts) gives each level its m and u probabilities.
 */
import { doubleMetaphone } from 'double-metaphone';
import { canonicalEmail } from '../privacy/identifiers.js';
import { jaroWinkler, normaliseName } from '../stages/near-duplicates/keys.js';

/** What scoring needs of a record: normalised comparison fields (personal data: kept sealed wherever stored). */
export interface ComparisonProfile {
  first_name?: string;
  last_name?: string;
  /** Canonical (lower case, no +tag; Gmail dots removed). */
  email?: string;
  /** E.164. */
  phone?: string;
  /** YYYY-MM-DD. */
  birth_date?: string;
  /** Upper case, no spaces. */
  postal_code?: string;
  /** The first address line, normalised. */
  address?: string;
  loyalty_id?: string;
}

export interface ProfileInput {
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  birthDate?: string;
  postalCode?: string;
  address?: string;
  loyaltyId?: string;
}

const present = (v: string | undefined): string | undefined => (v && v.trim() !== '' ? v : undefined);

export function profileOf(input: ProfileInput): ComparisonProfile {
  const profile: ComparisonProfile = {};
  const set = <K extends keyof ComparisonProfile>(k: K, v: string | undefined) => {
    if (v) profile[k] = v;
  };
  set('first_name', present(input.firstName) && normaliseName(input.firstName!));
  set('last_name', present(input.lastName) && normaliseName(input.lastName!));
  set('email', present(input.email) && canonicalEmail(input.email!));
  set('phone', present(input.phone)?.replace(/[\s().-]/g, ''));
  set('birth_date', present(input.birthDate) && /^\d{4}-\d{2}-\d{2}/.test(input.birthDate!) ? input.birthDate!.slice(0, 10) : undefined);
  set('postal_code', present(input.postalCode)?.replace(/\s+/g, '').toUpperCase());
  set('address', present(input.address) && normaliseName(input.address!));
  set('loyalty_id', present(input.loyaltyId)?.trim());
  return profile;
}

export interface Comparison {
  name: string;
  /** Level names, strongest agreement first, "else" last. */
  levels: readonly string[];
  /** The level of two profiles, or null when either lacks what it compares. */
  level(a: ComparisonProfile, b: ComparisonProfile): number | null;
  /** The field whose value's frequency adjusts an exact agreement (level 0), if any. */
  termFrequency?: keyof ComparisonProfile;
}

function both<K extends keyof ComparisonProfile>(a: ComparisonProfile, b: ComparisonProfile, k: K): [string, string] | null {
  const x = a[k];
  const y = b[k];
  return x && y ? [x, y] : null;
}

const sound = (s: string): string => doubleMetaphone(s)[0] ?? '';

/** Names compared after undoing a swap of first and last name, so that a swapped record meets its original. */
function names(a: ComparisonProfile, b: ComparisonProfile): ComparisonProfile {
  const swapped = a.first_name && a.last_name && a.first_name === b.last_name && a.last_name === b.first_name;
  return swapped ? { ...b, first_name: b.last_name, last_name: b.first_name } : b;
}

function nameComparison(field: 'first_name' | 'last_name'): Comparison {
  return {
    name: field,
    levels: ['exact', 'jaro_winkler_0.92', 'jaro_winkler_0.80', 'same_sound', 'else'],
    termFrequency: field,
    level(a, b) {
      const pair = both(a, names(a, b), field);
      if (!pair) return null;
      const [x, y] = pair;
      if (x === y) return 0;
      const jw = jaroWinkler(x, y);
      if (jw >= 0.92) return 1;
      if (jw >= 0.8) return 2;
      return sound(x) !== '' && sound(x) === sound(y) ? 3 : 4;
    },
  };
}

const emailComparison: Comparison = {
  name: 'email',
  levels: ['exact', 'same_local_part', 'local_part_jaro_winkler_0.88', 'else'],
  level(a, b) {
    const pair = both(a, b, 'email');
    if (!pair) return null;
    const [x, y] = pair;
    if (x === y) return 0;
    const [lx] = x.split('@');
    const [ly] = y.split('@');
    if (lx === ly) return 1;
    return jaroWinkler(lx!, ly!) >= 0.88 ? 2 : 3;
  },
};

const phoneComparison: Comparison = {
  name: 'phone',
  levels: ['exact', 'same_last_9_digits', 'else'],
  level(a, b) {
    const pair = both(a, b, 'phone');
    if (!pair) return null;
    const [x, y] = pair;
    if (x === y) return 0;
    const [dx, dy] = [x.replace(/\D/g, ''), y.replace(/\D/g, '')];
    return dx.length >= 9 && dx.slice(-9) === dy.slice(-9) ? 1 : 2;
  },
};

const birthDateComparison: Comparison = {
  name: 'birth_date',
  levels: ['exact', 'day_month_transposed', 'one_part_off', 'else'],
  level(a, b) {
    const pair = both(a, b, 'birth_date');
    if (!pair) return null;
    const [x, y] = pair;
    if (x === y) return 0;
    const [yx, mx, dx] = x.split('-');
    const [yy, my, dy] = y.split('-');
    if (yx === yy && mx === dy && dx === my) return 1;
    const same = [yx === yy, mx === my, dx === dy].filter(Boolean).length;
    const yearOff = Math.abs(Number(yx) - Number(yy)) === 1;
    return same === 2 && (yx === yy || yearOff) ? 2 : 3;
  },
};

const postalCodeComparison: Comparison = {
  name: 'postal_code',
  levels: ['exact', 'same_district', 'else'],
  level(a, b) {
    const pair = both(a, b, 'postal_code');
    if (!pair) return null;
    const [x, y] = pair;
    if (x === y) return 0;
    return x.length >= 4 && x.slice(0, 3) === y.slice(0, 3) ? 1 : 2;
  },
};

const addressComparison: Comparison = {
  name: 'address',
  levels: ['exact', 'jaro_winkler_0.90', 'else'],
  level(a, b) {
    const pair = both(a, b, 'address');
    if (!pair) return null;
    const [x, y] = pair;
    if (x === y) return 0;
    return jaroWinkler(x, y) >= 0.9 ? 1 : 2;
  },
};

const loyaltyComparison: Comparison = {
  name: 'loyalty_id',
  levels: ['exact', 'else'],
  level(a, b) {
    const pair = both(a, b, 'loyalty_id');
    return pair ? (pair[0] === pair[1] ? 0 : 1) : null;
  },
};

/** Every comparison of a customer profile, in the order a model lists its parameters. */
export const CUSTOMER_COMPARISONS: readonly Comparison[] = [
  nameComparison('first_name'),
  nameComparison('last_name'),
  emailComparison,
  phoneComparison,
  birthDateComparison,
  postalCodeComparison,
  addressComparison,
  loyaltyComparison,
];

/** The comparison vector of two profiles: one level (or null) per comparison. */
export function compare(a: ComparisonProfile, b: ComparisonProfile, comparisons: readonly Comparison[] = CUSTOMER_COMPARISONS): (number | null)[] {
  return comparisons.map((c) => c.level(a, b));
}
