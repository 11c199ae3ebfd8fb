/**
 * Text similarity for record linkage: normalised names, their sound, Jaro–Winkler. Every text is
 * compared by its first MAX_COMPARED_CHARS characters: Jaro–Winkler costs the product of two
 * lengths, and two names of 100,000 characters would hold the event loop for seconds.
 */
import { doubleMetaphone } from 'double-metaphone';

/** The characters of a field that record linkage looks at; no real name, email or address line is longer. */
export const MAX_COMPARED_CHARS = 100;

/** A text cut to what linkage compares. */
export function compared(text: string): string {
  return text.length > MAX_COMPARED_CHARS ? text.slice(0, MAX_COMPARED_CHARS) : text;
}

/** Sounds of names seen lately: names repeat (a few are very common), and Double Metaphone costs ~5 µs. Bounded: cleared when full. */
const SOUNDS = new Map<string, string>();
const SOUNDS_MAX = 50_000;

/** A name's sound: its primary Double Metaphone code ('' when it has none). */
export function nameSound(name: string): string {
  let sound = SOUNDS.get(name);
  if (sound === undefined) {
    if (SOUNDS.size >= SOUNDS_MAX) SOUNDS.clear();
    SOUNDS.set(name, (sound = doubleMetaphone(name.trim())[0] ?? ''));
  }
  return sound;
}

/** A postal code without spaces, in upper case. */
export function canonicalPostalCode(postalCode: string): string {
  return postalCode.replace(/\s+/g, '').toUpperCase();
}

/** A name in lower case, without accents, punctuation or repeated spaces, cut to what linkage compares. */
export function normaliseName(name: string): string {
  // Cut before normalising too (NFKD can lengthen a text), so a megabyte of name costs what a name does.
  return compared(
    name
      .slice(0, 4 * MAX_COMPARED_CHARS)
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N} ]/gu, '')
      .replace(/\s+/g, ' ')
      .trim(),
  );
}

let scratch = new Uint8Array(256);

/** Jaro-Winkler similarity, 0..1 (prefix scale 0.1, up to 4 characters), of the first MAX_COMPARED_CHARS characters of each. */
export function jaroWinkler(x: string, y: string): number {
  const a = compared(x);
  const b = compared(y);
  if (a === b) return a.length === 0 ? 0 : 1;
  if (a.length === 0 || b.length === 0) return 0;
  const window = Math.max(0, Math.floor(Math.max(a.length, b.length) / 2) - 1);
  if (scratch.length < a.length + b.length) scratch = new Uint8Array(2 * (a.length + b.length));
  // One scratch buffer for both strings' matched flags (a's first, then b's): no allocation per comparison.
  const matched = scratch;
  const bAt = a.length;
  matched.fill(0, 0, a.length + b.length);
  let matches = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = Math.max(0, i - window); j < Math.min(b.length, i + window + 1); j++) {
      if (matched[bAt + j] || a[i] !== b[j]) continue;
      matched[i] = matched[bAt + j] = 1;
      matches++;
      break;
    }
  }
  if (matches === 0) return 0;
  let transpositions = 0;
  for (let i = 0, k = 0; i < a.length; i++) {
    if (!matched[i]) continue;
    while (!matched[bAt + k]) k++;
    if (a[i] !== b[k]) transpositions++;
    k++;
  }
  const m = matches;
  const jaro = (m / a.length + m / b.length + (m - transpositions / 2) / m) / 3;
  let prefix = 0;
  while (prefix < 4 && prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  return jaro + prefix * 0.1 * (1 - jaro);
}
