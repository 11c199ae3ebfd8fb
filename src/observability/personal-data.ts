/**
 * Masking for people who may see that a value is there but not what it is: the quarantine tools
 * mask every field the contracts mark personal (`"c360.pii"`, src/schema/personal.ts) unless
 * asked, keeping enough to recognise a value (its first character, an email's domain).
 */
import { personalFieldNames } from '../schema/personal.js';

/** The names of the personal fields of every contract: what the logger redacts and the quarantine tools mask. */
export const PERSONAL_FIELDS: readonly string[] = [...personalFieldNames()].sort();

const personal = new Set<string>(PERSONAL_FIELDS);

function maskScalar(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  const text = String(value);
  const at = text.lastIndexOf('@');
  if (at > 0) return `${text[0]}***${text.slice(at)}`;
  return text.length <= 1 ? '*' : `${text[0]}***`;
}

/** A copy with every personal field masked, at any depth; a personal field holding a record is masked whole. */
export function maskPersonal(value: unknown, inPersonal = false): unknown {
  if (Array.isArray(value)) return value.map((v) => maskPersonal(v, inPersonal));
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskPersonal(v, inPersonal || personal.has(k))]));
  }
  return inPersonal ? maskScalar(value) : value;
}
