/**
 * Field comparisons for record linkage, Splink style: each compares one field of two comparison
 * profiles and answers a level, 0 being the strongest agreement and the last "else" (they
 * differ), or null when either side lacks the field (no evidence either way). A Fellegi–Sunter
 * model (model.ts) gives each level its m and u probabilities.
 */
import type { EntityDefinition } from '../contracts/topology-definition.js';
import { canonicalEmail, canonicalIdentifier } from '../privacy/identifiers.js';
import { readPath } from '../schema/field-path.js';
import { canonicalPostalCode, compared, jaroWinkler, nameSound, normaliseName } from './similarity.js';

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
  /** Lower case. */
  device_id?: string;
}

/** Every field of a profile, in the order compact stored forms list them. */
export const PROFILE_FIELDS = [
  'first_name',
  'last_name',
  'email',
  'phone',
  'birth_date',
  'postal_code',
  'address',
  'loyalty_id',
  'device_id',
] as const satisfies readonly (keyof ComparisonProfile)[];

export interface ProfileInput {
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  /** YYYY-MM-DD, an Avro date (days since 1970-01-01) or a Date (a Parquet date as read back). */
  birthDate?: string | number | Date;
  postalCode?: string;
  address?: string;
  loyaltyId?: string;
  deviceId?: string;
}

const present = (v: string | undefined): string | undefined => (v && v.trim() !== '' ? v : undefined);

export function profileOf(input: ProfileInput): ComparisonProfile {
  const profile: ComparisonProfile = {};
  // Each field kept as linkage compares it: its first MAX_COMPARED_CHARS characters, whatever a record holds.
  const set = <K extends keyof ComparisonProfile>(k: K, v: string | undefined) => {
    if (v) profile[k] = compared(v);
  };
  set('first_name', present(input.firstName) && normaliseName(input.firstName!));
  set('last_name', present(input.lastName) && normaliseName(input.lastName!));
  set('email', present(input.email) && canonicalEmail(input.email!));
  set('phone', canonicalIdentifier('phone', input.phone));
  set('birth_date', isoDate(input.birthDate));
  set('postal_code', present(input.postalCode) && canonicalPostalCode(input.postalCode!));
  set('address', present(input.address) && normaliseName(input.address!));
  set('loyalty_id', present(input.loyaltyId)?.trim());
  set('device_id', canonicalIdentifier('device', input.deviceId));
  return profile;
}

/** The profile of a record of an entity, from the fields its near-duplicate settings name. */
export function profileOfRecord(value: Record<string, unknown>, fields: NonNullable<EntityDefinition['nearDuplicates']>): ComparisonProfile {
  const at = (path: string | undefined): unknown => (path ? readPath(value, path) : undefined);
  const text = (path: string | undefined) => {
    const v = at(path);
    return typeof v === 'string' ? v : undefined;
  };
  const date = at(fields.birthDate);
  return profileOf({
    firstName: text(fields.firstName),
    lastName: text(fields.lastName),
    email: text(fields.email),
    phone: text(fields.phone),
    birthDate: typeof date === 'string' || typeof date === 'number' || date instanceof Date ? date : undefined,
    postalCode: text(fields.postalCode),
    address: text(fields.address),
    loyaltyId: text(fields.loyaltyId),
    deviceId: text(fields.deviceId),
  });
}

function isoDate(date: string | number | Date | undefined): string | undefined {
  if (date instanceof Date) return Number.isNaN(date.getTime()) ? undefined : date.toISOString().slice(0, 10);
  if (typeof date === 'number') return Number.isInteger(date) && Math.abs(date) < 1e8 ? new Date(date * 86_400_000).toISOString().slice(0, 10) : undefined;
  return date && /^\d{4}-\d{2}-\d{2}/.test(date) ? date.slice(0, 10) : undefined;
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

/**
 * A comparison of one field: null when a side lacks it, level 0 when the values are equal, and
 * `differing` grading the rest.
 */
function fieldComparison(
  name: keyof ComparisonProfile,
  levels: readonly string[],
  differing: (x: string, y: string) => number,
  options: { termFrequency?: boolean; prepare?: (a: ComparisonProfile, b: ComparisonProfile) => ComparisonProfile } = {},
): Comparison {
  return {
    name,
    levels,
    ...(options.termFrequency ? { termFrequency: name } : {}),
    level(a, b) {
      const x = a[name];
      const y = (options.prepare ? options.prepare(a, b) : b)[name];
      if (!x || !y) return null;
      return x === y ? 0 : differing(x, y);
    },
  };
}

/** Names compared after undoing a swap of first and last name, so that a swapped record meets its original. */
function names(a: ComparisonProfile, b: ComparisonProfile): ComparisonProfile {
  const swapped = a.first_name && a.last_name && a.first_name === b.last_name && a.last_name === b.first_name;
  return swapped ? { ...b, first_name: b.last_name, last_name: b.first_name } : b;
}

const nameComparison = (field: 'first_name' | 'last_name') =>
  fieldComparison(
    field,
    ['exact', 'jaro_winkler_0.92', 'jaro_winkler_0.80', 'same_sound', 'else'],
    (x, y) => {
      const jw = jaroWinkler(x, y);
      if (jw >= 0.92) return 1;
      if (jw >= 0.8) return 2;
      return nameSound(x) !== '' && nameSound(x) === nameSound(y) ? 3 : 4;
    },
    { termFrequency: true, prepare: names },
  );

const emailComparison = fieldComparison('email', ['exact', 'same_local_part', 'local_part_jaro_winkler_0.88', 'else'], (x, y) => {
  const [lx] = x.split('@');
  const [ly] = y.split('@');
  if (lx === ly) return 1;
  return jaroWinkler(lx!, ly!) >= 0.88 ? 2 : 3;
});

/** A phone's last 9 digits (all of them when it has fewer): what its national and international forms share. */
export function phoneTail(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return digits.length > 9 ? digits.slice(-9) : digits;
}

const phoneComparison = fieldComparison('phone', ['exact', 'same_last_9_digits', 'else'], (x, y) => {
  const tail = phoneTail(x);
  return tail.length === 9 && tail === phoneTail(y) ? 1 : 2;
});

const birthDateComparison = fieldComparison('birth_date', ['exact', 'day_month_transposed', 'one_part_off', 'else'], (x, y) => {
  const [yx, mx, dx] = x.split('-');
  const [yy, my, dy] = y.split('-');
  if (yx === yy && mx === dy && dx === my) return 1;
  const same = [yx === yy, mx === my, dx === dy].filter(Boolean).length;
  const yearOff = Math.abs(Number(yx) - Number(yy)) === 1;
  return same === 2 && (yx === yy || yearOff) ? 2 : 3;
});

const postalCodeComparison = fieldComparison('postal_code', ['exact', 'same_district', 'else'], (x, y) =>
  x.length >= 4 && x.slice(0, 3) === y.slice(0, 3) ? 1 : 2,
);

const addressComparison = fieldComparison('address', ['exact', 'jaro_winkler_0.90', 'else'], (x, y) => (jaroWinkler(x, y) >= 0.9 ? 1 : 2));

const loyaltyComparison = fieldComparison('loyalty_id', ['exact', 'else'], () => 1);

const deviceComparison = fieldComparison('device_id', ['exact', 'else'], () => 1);

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
  deviceComparison,
];

/** The comparison vector of two profiles: one level (or null) per comparison. */
export function compare(a: ComparisonProfile, b: ComparisonProfile, comparisons: readonly Comparison[] = CUSTOMER_COMPARISONS): (number | null)[] {
  return comparisons.map((c) => c.level(a, b));
}
