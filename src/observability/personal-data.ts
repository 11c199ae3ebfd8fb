/**
 * Which fields carry personal data, in one list: the logger redacts them and the quarantine tools
 * mask them unless asked. Masking keeps enough to recognise a value (its first character, an
 * email's domain) without showing it.
 */
export const PERSONAL_FIELDS = [
  'email',
  'phone',
  'first_name',
  'last_name',
  'name',
  'birth_date',
  'address',
  'device_id',
  'ip',
  'ip_address',
  'line1',
  'line2',
  'postal_code',
  'user_agent',
  'anonymous_id',
] as const;

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
