/**
 * Identifiers: the values that name a person — an email, a phone number, a device or cookie id, a
 * customer id — in one canonical form each, so that the same person's variants meet: an erasure
 * request by `Ann.Lee+promo@GoogleMail.com` reaches records sent as `annlee@gmail.com`.
 */

const GMAIL = new Set(['gmail.com', 'googlemail.com']);

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

/** An identifier's canonical form by its kind (emails as above, phones without spaces or dashes, other ids trimmed), or undefined when empty. */
export function canonicalIdentifier(kind: string, value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  if (text === '') return undefined;
  if (kind === 'email') return canonicalEmail(text);
  if (kind === 'phone') return text.replace(/[\s().-]/g, '');
  if (kind === 'device' || kind === 'online_id') return text.toLowerCase();
  return text;
}
