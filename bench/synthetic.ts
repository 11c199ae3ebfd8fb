/**
 * Deterministic synthetic input for benchmarks: CRM profiles and web events, Confluent-framed Avro,
 * with a known share of exact duplicates, near-duplicates and invalid records.
 */
import type { Message } from 'kafkajs';
import { frame } from '../src/contracts/framing.js';
import { loadSchema } from '../src/schema/avro.js';

const FIRST = ['Ann', 'Bob', 'Cara', 'Dara', 'Eoin', 'Fiona', 'Gary', 'Hannah', 'Ian', 'Jane'];
const LAST = ['Lee', 'Byrne', 'Murphy', 'Kelly', 'Walsh', 'Smith', 'Ryan', 'Doyle', 'Brennan', 'Lynch'];
/** A Dublin Eircode per customer, so name+postal blocking keys are as selective as real addresses make them. */
function eircode(n: number): string {
  const chars = 'ACDEFHKNPRTVWXY0123456789';
  let unique = '';
  for (let k = 0, v = n; k < 4; k++, v = Math.floor(v / chars.length)) unique += chars[v % chars.length];
  return `D${String((n % 24) + 1).padStart(2, '0')} ${unique}`;
}

/** A valid IMEI per customer: 14 digits from the number, then the Luhn check digit. */
function imeiFor(n: number): string {
  const body = `35${String(n).padStart(12, '0')}`;
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    let d = Number(body[13 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}

export interface SyntheticMix {
  messages: Message[];
  expected: { duplicates: number; invalid: number; nearDuplicates: number };
}

/** Half CRM, half web; ids for registry-framed Avro must be the ingest subjects' ids. */
export function synthetic(total: number, ids: { crm: number; web: number }): { crm: SyntheticMix; web: SyntheticMix } {
  const crmType = loadSchema('CustomerProfile').type;
  const webType = loadSchema('BehavioralEvent').type;
  const crm: SyntheticMix = { messages: [], expected: { duplicates: 0, invalid: 0, nearDuplicates: 0 } };
  const web: SyntheticMix = { messages: [], expected: { duplicates: 0, invalid: 0, nearDuplicates: 0 } };
  const now = Date.UTC(2026, 10, 1);
  const half = Math.floor(total / 2);

  for (let i = 0; i < half; i++) {
    const kind = i % 100;
    if (kind === 7 && i > 100) {
      crm.messages.push(crm.messages[i - 50]!); // exact duplicate of an earlier record
      crm.expected.duplicates++;
      continue;
    }
    // Near-duplicate: an earlier customer's person again under another customer id (their email, name, phone, birth date, address).
    const n = kind === 13 && i > 100 ? i - 40 : i;
    const profile = {
      customer_id: `C-${i}`,
      email: kind === 21 ? `customer${n}@@example.com` : `customer${n}@example.com`,
      first_name: FIRST[n % 10]!,
      // Digits spelled as consonants, so surnames sound different and name+postal blocking keys stay selective.
      last_name: `${LAST[n % 10]}${String(n).replace(/\d/g, (d) => 'bdfgklmnpr'[Number(d)]!)}`,
      phone: `+35386${String(1000000 + (n % 9000000)).padStart(7, '0')}`,
      birth_date: 7000 + (n % 9000),
      address: { line1: `${n} Main St`, line2: null, city: 'Dublin', region: 'IE-D', postal_code: eircode(n), country: 'IE' },
      loyalty_id: `L-${i}`,
      loyalty_tier: 'SILVER',
      loyalty_points: i % 5000,
      marketing_consent: i % 2 === 0,
      updated_at: now + i,
    };
    if (kind === 13 && i > 100) crm.expected.nearDuplicates++;
    if (kind === 21) crm.expected.invalid++;
    crm.messages.push({ key: profile.customer_id, value: frame(ids.crm, crmType.toBuffer(profile)) });
  }

  for (let i = 0; i < total - half; i++) {
    const kind = i % 100;
    if (kind === 9 && i > 100) {
      web.messages.push(web.messages[i - 30]!);
      web.expected.duplicates++;
      continue;
    }
    const event = {
      event_id: `ev-${i}`,
      event_type: 'PAGE_VIEW',
      occurred_at: now + i,
      customer_id: `C-${i % 5000}`,
      anonymous_id: null,
      session_id: `s-${i >> 4}`,
      email: null,
      page_url: `https://shop.example/p/${i % 1000}`,
      referrer: null,
      device: {
        id_type: 'IMEI',
        device_id: kind === 33 ? '490154203237519' : imeiFor(i % 5000),
        platform: 'android',
        os_version: '14',
        app_version: '5.2.0',
        user_agent: null,
      },
      geo: { latitude: 53.35, longitude: -6.26, country: 'IE', region: 'IE-D', city: 'Dublin' },
      properties: { campaign: 'winter' },
    };
    if (kind === 33) web.expected.invalid++;
    web.messages.push({ key: event.event_id, value: frame(ids.web, webType.toBuffer(event)) });
  }
  return { crm, web };
}

/** A CRM profile in its Avro form, as raw records hold it before encryption; record `i` of `person`'s (default: its own person). */
export function rawCrmProfile(i: number, person = i): Record<string, unknown> {
  return {
    customer_id: `C-${person}`,
    email: `customer${person}@example.com`,
    first_name: 'Ann',
    last_name: `Lee${person % 997}`,
    phone: `+35386${String(1_000_000 + (person % 9_000_000)).padStart(7, '0')}`,
    birth_date: 7000 + (person % 9000),
    address: { line1: `${i % 200} Main St`, line2: null, city: 'Dublin', region: 'IE-D', postal_code: 'D02 X285', country: 'IE' },
    loyalty_id: `L-${i}`,
    loyalty_tier: 'SILVER',
    loyalty_points: i % 5000,
    marketing_consent: i % 2 === 0,
    updated_at: Date.UTC(2026, 10, 1) + i,
  };
}
