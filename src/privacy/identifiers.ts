/**
 * Identifiers: the values that name a person — an email, a phone number, a device or cookie id, a
 * customer id — in one canonical form each, so that the same person's variants meet: an erasure
 * request by `Ann.Lee+promo@GoogleMail.com` reaches records sent as `annlee@gmail.com`, and one by
 * `085 123 4567` (read in C360_PHONE_REGION) reaches records the phone rule stored as `+353851234567`.
 */
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import { ConfigError } from '../contracts/errors.js';

const GMAIL = new Set(['gmail.com', 'googlemail.com']);
/** RFC 5321's limits: 64 characters before the @, 254 in all. */
const EMAIL = /^[^\s@"(),:;<>[\\\]]{1,64}@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/;
const MAX_EMAIL_CHARS = 254;
/** An id longer than this is no id a system issues (the key store keeps pseudonyms, so this bounds only what is accepted). */
const MAX_ID_CHARS = 256;
const E164 = /^\+[1-9]\d{6,14}$/;

/** Lower-cased; `+tags` removed; for Gmail, dots in the local part removed and googlemail.com folded into gmail.com. */
export function canonicalEmail(email: string): string | undefined {
  const lower = email.trim().toLowerCase();
  const at = lower.lastIndexOf('@');
  if (at <= 0) return undefined;
  let local = lower.slice(0, at);
  let domain = lower.slice(at + 1);
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  if (GMAIL.has(domain)) {
    local = local.replaceAll('.', '');
    domain = 'gmail.com';
  }
  return `${local}@${domain}`;
}

/** Whether the text is an email address as a person would write one. */
export function isEmail(text: string): boolean {
  const lower = text.trim().toLowerCase();
  return lower.length <= MAX_EMAIL_CHARS && EMAIL.test(lower);
}

const PHONE_SHAPED = /^\+?[\d\s().-]{7,20}$/;

/** The kind an id-shaped value is an identifier of, when a sender put an email or a phone where an id belongs. */
export function personalShape(value: unknown): 'email' | 'phone' | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.includes('@')) return isEmail(value) ? 'email' : undefined;
  return PHONE_SHAPED.test(value) && value.replace(/\D/g, '').length >= 7 ? 'phone' : undefined;
}

/** A phone number in E.164 when it is a valid one (a national number only with a region), else undefined. */
function validPhone(text: string, region?: CountryCode): string | undefined {
  const parsed = parsePhoneNumberFromString(text, region ? { defaultCountry: region } : undefined);
  return parsed?.isValid() ? parsed.number : undefined;
}

/**
 * An identifier's canonical form by its kind (emails as above, phones in E.164 when they parse and
 * without spaces or dashes when not, device and cookie ids lower-cased, other ids trimmed), or
 * undefined when empty. Records pass through here: nothing is refused, only made comparable.
 */
export function canonicalIdentifier(kind: string, value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  if (text === '') return undefined;
  if (kind === 'email') return canonicalEmail(text);
  if (kind === 'phone') {
    // What the phone rule stored is E.164 already: only other shapes are parsed.
    if (E164.test(text)) return text;
    return validPhone(text) ?? text.replace(/[\s().-]/g, '');
  }
  if (kind === 'device' || kind === 'online_id') return text.toLowerCase();
  return text;
}

/**
 * An identifier a person or an operator gives (to forget or export someone), checked as strictly
 * as ingest checks it: a malformed email, a phone that is no number (national ones read in
 * `region`), an empty or overlong id is one sentence naming the option. Returns the canonical form.
 */
export function givenIdentifier(option: string, kind: string, value: string, region: CountryCode | undefined): string {
  const text = value.trim();
  if (kind === 'email') {
    if (!isEmail(text)) throw new ConfigError(`${option} "${shown(text)}" is not an email address.`);
    return canonicalEmail(text)!;
  }
  if (kind === 'phone') {
    const phone = validPhone(text, region);
    if (phone) return phone;
    throw new ConfigError(
      region
        ? `${option} "${shown(text)}" is not a valid phone number in ${region} or in international form.`
        : `${option} "${shown(text)}" is not a valid international phone number (+<country code>…); set C360_PHONE_REGION to give national numbers.`,
    );
  }
  if (text === '' || text.length > MAX_ID_CHARS || /\p{Cc}/u.test(text))
    throw new ConfigError(`${option} "${shown(text)}" is not a usable ${kind}: 1 to ${MAX_ID_CHARS} characters, no control characters.`);
  return canonicalIdentifier(kind, text)!;
}

/** A value as an error may show it: what the caller typed, cut short. */
const shown = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text).replace(/\p{Cc}/gu, '?');
