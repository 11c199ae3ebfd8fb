/**
 * A labelled customer base for matching benchmarks: people with the duplicates real sources make
 * of them (typos, transposed digits, nicknames, swapped first and last names, a move with a new
 * email, missing fields, Gmail variants, phones written nationally) and the hard non-duplicates
 * that fool blocking (a family at one address sharing a surname and a landline, twins, namesakes
 * in one postcode, colleagues behind one company email and phone, a household's shared tablet). Seeded: the same seed gives
 * the same records. Each record carries its person's id, the truth a benchmark scores against.
 */
import type { ProfileInput } from '../src/matching/comparisons.js';

export interface LabelledRecord extends ProfileInput {
  person: number;
  /** YYYY-MM-DD. */
  birthDate?: string;
}

/** mulberry32: a small, seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = (
  'Marie Jean Pierre Michel Anne Philippe Nathalie Isabelle Sophie Nicolas Julien Camille Thomas Laura Lucas Emma Hugo Chloe Louis Léa ' +
  'Sarah Paul Manon Antoine Julie Maxime Pauline Alexandre Claire Romain Elise Mathieu Céline Vincent Aurélie Olivier Sandrine David ' +
  'Christophe Valérie Sébastien Caroline Guillaume Mélanie François Émilie Stéphane Audrey Laurent Hélène Robert William Elizabeth ' +
  'Katherine James Michael Jennifer Daniel Margaret Richard Patricia Joseph Susan Charles Jessica Andrew Rebecca Benjamin Victoria ' +
  'Samuel Alice Gabriel Louise Arthur Jade Raphaël Inès Adam Zoé Nathan Lina Ethan Rose Jules Anna Noah Eva Mohamed Fatima Yasmine ' +
  'Karim Nadia Mehdi Amina Carlos Lucia Diego Sofia Marco Giulia Luca Chiara'
).split(' ');
const LAST = (
  'Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel Garcia David Bertrand Roux ' +
  'Vincent Fournier Morel Girard André Lefèvre Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc ' +
  'Guerin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clement Gauthier Dumont Lopez Fontaine Chevalier Robin Masson Sanchez ' +
  'Gerard Nguyen Boyer Denis Lemaire Duval Joly Gautier Roger Roche Roy Noel Meyer Lucas Meunier Jean Perez Marchand Dufour Blanchard ' +
  'Marie Barbier Brun Dumas Brunet Schmitt Leroux Colin Fernandez Pierre Renard Arnaud Rolland Caron Aubert Giraud Leclerc Vidal ' +
  'Bourgeois Renaud Lemoine Picard Gaillard Philippe Leclercq Lacroix Fabre Dupuis Olivier Rodriguez Da Silva Hubert Louis Charles ' +
  'Guillot Riviere Le Gall Guillaume Adam Rey Moulin Gonzalez Berger Lecomte Menard Fleury Deschamps Carpentier Julien Benoit Paris ' +
  'Maillard Marchal Aubry Vasseur Le Roux Renault Jacquet Collet Prevost Poirier Charpentier Royer Huet Baron Dupuy Pons Paul Laine ' +
  'Carre Breton Remy Schneider Perret Giraud Smith Jones Williams Brown Taylor Wilson Evans Johnson Walker Wright Robinson Thompson'
).split(' ');
const STREETS = (
  'rue de la Paix|avenue Victor Hugo|boulevard Voltaire|rue de Rivoli|rue du Faubourg Saint-Antoine|avenue de la République|rue Oberkampf|' +
  'rue de Charonne|boulevard de Belleville|rue des Martyrs|rue Lepic|avenue Jean Jaurès|rue de Vaugirard|rue de Rennes|rue Mouffetard|' +
  'quai de Valmy|rue de Bretagne|rue Saint-Maur|avenue Parmentier|rue de la Roquette'
).split('|');
const NICKNAMES: Record<string, string> = {
  Robert: 'Bob',
  William: 'Bill',
  Elizabeth: 'Liz',
  Katherine: 'Kate',
  James: 'Jim',
  Michael: 'Mike',
  Richard: 'Rick',
  Margaret: 'Maggie',
  Jennifer: 'Jenny',
  Daniel: 'Dan',
  Joseph: 'Joe',
  Charles: 'Charlie',
  Andrew: 'Andy',
  Rebecca: 'Becky',
  Benjamin: 'Ben',
  Victoria: 'Vicky',
  Samuel: 'Sam',
  Alexandre: 'Alex',
  Nicolas: 'Nico',
  Mathieu: 'Matt',
};
const DOMAINS = ['gmail.com', 'yahoo.fr', 'orange.fr', 'outlook.com', 'free.fr', 'hotmail.fr', 'laposte.net'];

export interface CustomerBaseOptions {
  records: number;
  seed?: number;
  /** Share of people who have duplicate records (1–2 more). */
  duplicated?: number;
  /**
   * What a duplicate changes: anything real sources change (the default: nicknames, swapped names,
   * moves, missing fields too), or only the ordinary: typos, letter case, a phone's format.
   */
  changes?: 'any' | 'ordinary';
}

/** `records` records, people and their duplicates interleaved in arrival order. */
export function customerBase({ records, seed = 42, duplicated = 0.2, changes = 'any' }: CustomerBaseOptions): LabelledRecord[] {
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  // Zipf-like: a few names are very common, most are rare.
  const zipf = <T>(xs: readonly T[]): T => xs[Math.min(xs.length - 1, Math.floor(xs.length * random() ** 2.2))]!;
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 10)).join('');
  // Postcodes of Paris-like districts: many people per postcode, so surnames and postcodes collide.
  const postcodes = Array.from({ length: Math.max(20, Math.round(records / 400)) }, (_, i) =>
    String(75001 + (i % 20) + 100 * Math.floor(i / 20)).padStart(5, '0'),
  );
  const address = () => `${1 + Math.floor(random() * 180)} ${pick(STREETS)}`;
  const birthDate = () => {
    const y = 1940 + Math.floor(random() * 66);
    const m = 1 + Math.floor(random() * 12);
    const d = 1 + Math.floor(random() * 28);
    return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  };
  const ascii = (s: string) =>
    s
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .toLowerCase()
      .replace(/[^a-z]/g, '');
  // A mailbox is one person's (shared company mailboxes are made on purpose below): a taken address gets digits.
  const taken = new Set<string>();
  const emailOf = (first: string, last: string) => {
    const style = random();
    const local = style < 0.5 ? `${ascii(first)}.${ascii(last)}` : style < 0.8 ? `${ascii(first)[0]}${ascii(last)}${digits(2)}` : `${ascii(last)}${digits(3)}`;
    let email = `${local}@${pick(DOMAINS)}`;
    while (taken.has(email)) email = `${local}${digits(2)}@${pick(DOMAINS)}`;
    taken.add(email);
    return email;
  };
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const deviceId = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`.toUpperCase();
  const mobile = () => `+336${digits(8)}`;
  const landline = () => `+331${digits(8)}`;

  const people: LabelledRecord[] = [];
  const newPerson = (p: Partial<LabelledRecord>): LabelledRecord => {
    const firstName = p.firstName ?? zipf(FIRST);
    const lastName = p.lastName ?? zipf(LAST);
    const person: LabelledRecord = {
      person: people.length,
      firstName,
      lastName,
      email: p.email ?? emailOf(firstName, lastName),
      phone: p.phone ?? (random() < 0.8 ? mobile() : landline()),
      birthDate: p.birthDate ?? birthDate(),
      postalCode: p.postalCode ?? pick(postcodes),
      address: p.address ?? address(),
      loyaltyId: p.loyaltyId ?? (random() < 0.4 ? `L${digits(8)}` : undefined),
      // A mobile app's advertising id, for the third who use the app.
      deviceId: p.deviceId ?? (random() < 0.35 ? deviceId() : undefined),
    };
    people.push(person);
    return person;
  };

  // Enough people for the records asked (duplicates add 1.25 records per duplicated person), cut to size at the end.
  const target = Math.ceil((records / (1 + duplicated * 1.25)) * 1.1);
  while (people.length < target) {
    const kind = random();
    const base = newPerson({});
    if (kind < 0.12) {
      // A household: partner and children share the surname, the address and the landline; twins share a birth date too.
      const phone = landline();
      base.phone = phone;
      // Some households share one tablet, signed in to the app by each member.
      const tablet = random() < 0.3 ? (base.deviceId ??= deviceId()) : undefined;
      const members = 1 + Math.floor(random() * 3);
      for (let i = 0; i < members; i++) {
        const twin = i === 0 && random() < 0.15;
        newPerson({
          lastName: base.lastName,
          postalCode: base.postalCode,
          address: base.address,
          phone,
          birthDate: twin ? base.birthDate : undefined,
          deviceId: tablet,
        });
      }
    } else if (kind < 0.16) {
      // A namesake in the same postcode: same first and last name, nothing else in common.
      newPerson({ firstName: base.firstName, lastName: base.lastName, postalCode: base.postalCode });
    } else if (kind < 0.19) {
      // Colleagues behind one company mailbox and switchboard.
      const company = `contact@${ascii(pick(LAST))}-${digits(3)}.fr`;
      const phone = landline();
      base.email = company;
      base.phone = phone;
      for (let i = 0; i < 1 + Math.floor(random() * 2); i++) newPerson({ email: company, phone });
    }
  }

  const typo = (s: string): string => {
    if (s.length < 3) return s;
    const i = 1 + Math.floor(random() * (s.length - 2));
    const op = random();
    if (op < 0.33) return s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2); // transposition
    if (op < 0.66) return s.slice(0, i) + s.slice(i + 1); // deletion
    return s.slice(0, i) + String.fromCharCode(97 + Math.floor(random() * 26)) + s.slice(i + 1); // substitution
  };
  // +33612345678 as written nationally: 06 12 34 56 78.
  const national = (phone: string) => `0${phone.slice(3, 4)} ${phone.slice(4, 6)} ${phone.slice(6, 8)} ${phone.slice(8, 10)} ${phone.slice(10)}`;
  const emailTypo = (email: string) => `${typo(email.split('@')[0]!)}@${email.split('@')[1]}`;
  /** A copy of p with one to `most` changes, each made by `change` from a fresh draw. */
  const varied = (p: LabelledRecord, most: number, change: (v: LabelledRecord, what: number) => void): LabelledRecord => {
    const v: LabelledRecord = { ...p };
    const count = 1 + Math.floor(random() * most);
    for (let c = 0; c < count; c++) change(v, random());
    return v;
  };
  const ordinaryChange = (v: LabelledRecord, what: number) => {
    if (what < 0.2) v.lastName = typo(v.lastName!);
    else if (what < 0.35) v.firstName = typo(v.firstName!);
    else if (what < 0.5) [v.firstName, v.lastName] = [v.firstName!.toUpperCase(), v.lastName!.toUpperCase()];
    else if (what < 0.6 && v.email) v.email = v.email.toUpperCase();
    else if (what < 0.75 && v.phone) v.phone = national(v.phone);
    else if (what < 0.85 && v.phone) v.phone = `+33 ${national(v.phone).slice(1)}`;
    else if (what < 0.93 && v.email) v.email = emailTypo(v.email);
    else if (v.address) v.address = v.address.toUpperCase();
  };
  const anyChange = (p: LabelledRecord) => (v: LabelledRecord, what: number) => {
    if (what < 0.14) v.lastName = typo(v.lastName!);
    else if (what < 0.26) v.firstName = typo(v.firstName!);
    else if (what < 0.34) v.firstName = NICKNAMES[p.firstName!] ?? typo(v.firstName!);
    else if (what < 0.4) [v.firstName, v.lastName] = [v.lastName, v.firstName];
    else if (what < 0.5) {
      // Moved house, with a new email.
      v.address = address();
      v.postalCode = pick(postcodes);
      v.email = emailOf(v.firstName!, v.lastName!);
    } else if (what < 0.58 && v.phone) v.phone = national(v.phone);
    else if (what < 0.64 && v.phone) {
      const d = v.phone.split('');
      const i = 5 + Math.floor(random() * (d.length - 6));
      [d[i], d[i + 1]] = [d[i + 1]!, d[i]!];
      v.phone = d.join('');
    } else if (what < 0.76) {
      const field = pick(['email', 'phone', 'birthDate', 'address', 'loyaltyId', 'deviceId'] as const);
      v[field] = undefined;
    } else if (what < 0.84 && v.email?.endsWith('@gmail.com')) {
      const [local] = v.email.split('@');
      v.email = random() < 0.5 ? `${local!.replace('.', '')}+shop@gmail.com` : `${local}@googlemail.com`;
    } else if (what < 0.9 && v.birthDate) {
      const [y, m, d] = v.birthDate.split('-');
      if (Number(d) <= 12) v.birthDate = `${y}-${d}-${m}`;
    } else if (what < 0.96 && v.email) v.email = emailTypo(v.email);
    else if (v.birthDate) v.birthDate = `${Number(v.birthDate.slice(0, 4)) + (random() < 0.5 ? 1 : -1)}${v.birthDate.slice(4)}`;
  };
  const variant = (p: LabelledRecord): LabelledRecord => (changes === 'ordinary' ? varied(p, 2, ordinaryChange) : varied(p, 3, anyChange(p)));

  const out: LabelledRecord[] = [];
  for (const p of people) {
    out.push(p);
    if (random() < duplicated) {
      const extra = random() < 0.75 ? 1 : 2;
      for (let i = 0; i < extra; i++) out.push(variant(p));
    }
  }
  // Arrival order: duplicates come later than their original, spread over the stream.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.max(0, i - Math.floor(random() * 2000));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out.slice(0, records);
}
