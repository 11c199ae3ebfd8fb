/**
 * What privacy does to one record of an entity: which person it is about (its subject), which
 * identifiers lead to that person, and its personal fields encrypted for the subject or decrypted
 * again. Everything is a pseudonym (src/privacy/pseudonyms.ts): no plain identifier leaves here.
 */

import { dayOf } from '../contracts/lineage.js';
import type { CompiledEntity } from '../schema/entity.js';
import { forEachAt, type PathSegment, pathSegments } from '../schema/field-path.js';
import { unmarkedTextFields } from '../schema/personal.js';
import { decryptValue, isRecordSealed, openRecord, recordPlace, sealRecord, subjectOfCiphertext } from './envelope-keys.js';
import { canonicalIdentifier, personalShape } from './identifiers.js';
import type { Pseudonyms } from './pseudonyms.js';

interface Located {
  path: string;
  segments: PathSegment[];
  /** The personal kind its contract marks it with, or its own name for an unmarked id (customer_id). */
  kind: string;
}

/** Who a record is about: its subject, and the pseudonyms of every identifier in it that leads to a person. */
export interface RecordPerson {
  subject: string;
  identifiers: string[];
}

interface Plan {
  personal: Located[];
  /** Personal fields whose content is free (a map of properties, a URL): scanned for identifiers that lead to the person. */
  freeForm: Located[];
  /** Unmarked id fields other than the key (customer_id): in clear while they hold an id, sealed when a sender put an email or phone there. */
  looseIds: Located[];
  /** Every other unmarked string field but the key: in clear, unless a sender wrote an email into it. */
  texts: Located[];
  /** Fields whose values name the person: the subject fields, then every email, phone and device or cookie id. */
  identifying: Located[];
  subject: Located[];
}

/** Kinds of personal field whose value names a person by itself. */
const IDENTIFYING = new Set(['email', 'phone', 'device', 'online_id']);

const EMAIL_IN_TEXT = /[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+/gi;
const HOLDS_EMAIL = new RegExp(EMAIL_IN_TEXT.source, 'i');
/** Keys of a free-form map whose value is a phone number, or an id the sender knows the person by (Segment's alias names the earlier id `previous_id`). */
const PHONE_KEY = /phone|mobile|msisdn|^tel$/i;
const ID_KEY = /^(previous_?id|anonymous_?id|user_?id)$/i;

/** Calls `found` for every identifier in a free-form value: emails anywhere (URL-encoded ones too), phones and ids under keys that say so. */
function scanFreeForm(node: unknown, key: string | undefined, found: (kind: string, value: string) => void): void {
  if (typeof node === 'string') {
    if (node.includes('@')) for (const m of node.matchAll(EMAIL_IN_TEXT)) found('email', m[0]);
    if (node.includes('%40')) {
      let decoded: string | undefined;
      try {
        decoded = decodeURIComponent(node);
      } catch {
        decoded = undefined;
      }
      if (decoded) for (const m of decoded.matchAll(EMAIL_IN_TEXT)) found('email', m[0]);
    }
    if (key !== undefined && PHONE_KEY.test(key)) found('phone', node);
    if (key !== undefined && ID_KEY.test(key)) {
      found('online_id', node);
      found('customer_id', node);
    }
  } else if (Array.isArray(node)) for (const v of node) scanFreeForm(v, key, found);
  else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) scanFreeForm(v, k, found);
}

/** A field's identifier kind: its personal mark, else its own name (customer_id, record_id). */
function kindOf(entity: CompiledEntity, path: string): string {
  return entity.personal.find((f) => f.path === path)?.kind ?? path.split('.').pop()!;
}

const locate = (path: string, kind: string): Located => ({
  path,
  kind,
  segments: pathSegments(path),
});

function valuesAt(value: Record<string, unknown>, at: Located): unknown[] {
  const out: unknown[] = [];
  forEachAt(value, at.segments, (c, k) => out.push(c[k]), at.path);
  return out;
}

export class RecordPrivacy {
  private readonly plans = new Map<string, Plan>();

  constructor(private readonly pseudonyms: Pseudonyms) {}

  private plan(entity: CompiledEntity): Plan {
    let plan = this.plans.get(entity.id);
    if (!plan) {
      const subject = (entity.definition.privacy?.subject ?? [entity.definition.key]).map((p) => locate(p, kindOf(entity, p)));
      const personal = entity.personal.map((f) => locate(f.path, f.kind));
      // The near-duplicate identity names the person in Redis: forgetting them must reach it too.
      const identity = entity.definition.nearDuplicates?.identityField;
      const candidates = [...subject, ...(identity ? [locate(identity, kindOf(entity, identity))] : []), ...personal.filter((f) => IDENTIFYING.has(f.kind))];
      const identifying = candidates.filter((f, i) => candidates.findIndex((g) => g.path === f.path) === i);
      const marked = new Set(personal.map((f) => f.path));
      const looseIds = identifying.filter((f) => !marked.has(f.path) && f.path !== entity.definition.key);
      const freeForm = personal.filter((f) => f.kind === 'free_text');
      const loose = new Set(looseIds.map((f) => f.path));
      const texts = unmarkedTextFields(entity.schema)
        .filter((path) => path !== entity.definition.key && !loose.has(path))
        .map((path) => locate(path, 'text'));
      this.plans.set(entity.id, (plan = { personal, freeForm, looseIds, texts, identifying, subject }));
    }
    return plan;
  }

  /** The kinds of identifier these entities know a person by: what an erasure or an export may name. */
  identifierKinds(entities: Iterable<CompiledEntity>): Set<string> {
    const kinds = new Set([...IDENTIFYING, 'customer_id']);
    for (const e of entities) for (const at of this.plan(e).identifying) kinds.add(at.kind);
    return kinds;
  }

  /** Whether the entity has personal fields at all (a product catalogue has none). */
  holdsPersonalData(entity: CompiledEntity): boolean {
    const plan = this.plan(entity);
    return plan.personal.length > 0 || plan.looseIds.length > 0;
  }

  /**
   * The subject of a record no person can be named for (it did not decode): one per source and
   * ingest day, so operators can make a day's unreadable quarantine unreadable for good.
   */
  unidentified(source: string, receivedAt: number): { subject: string; day: string } {
    const day = dayOf(receivedAt);
    return { subject: this.pseudonyms.of('id:unidentified', `${source}/${day}`), day };
  }

  /** The pseudonym the value of one of the entity's fields is known by as an identifier. */
  identifierAt(entity: CompiledEntity, path: string, value: unknown): string | undefined {
    return this.identifier(kindOf(entity, path), value);
  }

  /** The pseudonym an identifier of this kind and value is known by. */
  identifier(kind: string, value: unknown): string | undefined {
    const canonical = canonicalIdentifier(kind, value);
    return canonical === undefined ? undefined : this.pseudonyms.of(`id:${kind}`, canonical);
  }

  /**
   * The record's person, in one pass: its subject (its first subject field present, else the record
   * itself: entity and natural id) and every identifier in it that leads to a person. The subject
   * fields come first among the identifying ones, so the subject is the first of them that names someone.
   */
  personOf(entity: CompiledEntity, value: Record<string, unknown>): RecordPerson {
    const plan = this.plan(entity);
    const ids = new Set<string>();
    let subject: string | undefined;
    for (const at of plan.identifying) {
      for (const v of valuesAt(value, at)) {
        const id = this.identifier(at.kind, v);
        if (!id) continue;
        ids.add(id);
        if (subject === undefined && plan.subject.includes(at)) subject = id;
        // A customer id that is an email is that email as well: an erasure by the address reaches it.
        const shape = plan.looseIds.includes(at) ? personalShape(v) : undefined;
        const alias = shape && this.identifier(shape, v);
        if (alias) ids.add(alias);
      }
    }
    const add = (kind: string, v: string) => {
      const id = this.identifier(kind, v);
      if (id) ids.add(id);
    };
    for (const at of plan.freeForm) for (const v of valuesAt(value, at)) scanFreeForm(v, undefined, add);
    for (const at of plan.texts) for (const v of valuesAt(value, at)) if (typeof v === 'string' && v.includes('@')) scanFreeForm(v, undefined, add);
    return { subject: subject ?? this.pseudonyms.of('id:record', `${entity.id}/${entity.naturalId(value)}`), identifiers: [...ids] };
  }

  /**
   * Encrypts each present personal value in place for the subject, all in one AEAD (sealRecord);
   * and an id field holding an email or phone, and an email in a text field.
   */
  encrypt(entity: CompiledEntity, value: Record<string, unknown>, subject: string, key: Buffer): void {
    const places = this.sealedPlaces(entity, value, (kind, v) =>
      kind === 'personal' ? true : kind === 'loose' ? personalShape(v) !== undefined : typeof v === 'string' && v.includes('@') && HOLDS_EMAIL.test(v),
    );
    if (places.length === 0) return;
    const texts = sealRecord(
      subject,
      key,
      entity.id,
      places.map((p) => [p.path, p.container[p.key]]),
    );
    for (const [i, p] of places.entries()) p.container[p.key] = texts[i];
  }

  /**
   * The record's values that `take` accepts, in one order for sealing and opening: its personal
   * fields, then its loose id fields, then its other text fields.
   */
  private sealedPlaces(entity: CompiledEntity, value: Record<string, unknown>, take: (kind: 'personal' | 'loose' | 'text', v: unknown) => boolean): Place[] {
    const plan = this.plan(entity);
    const places: Place[] = [];
    const collect = (kind: 'personal' | 'loose' | 'text', fields: Located[]) => {
      for (const at of fields) forEachAt(value, at.segments, (c, k) => take(kind, c[k]) && places.push({ container: c, key: k, path: at.path }), at.path);
    };
    collect('personal', plan.personal);
    collect('loose', plan.looseIds);
    collect('text', plan.texts);
    return places;
  }

  /** The subjects whose keys a stored record needs. */
  subjectsIn(entity: CompiledEntity, value: Record<string, unknown>): string[] {
    const sealed = this.sealedPlaces(entity, value, (_kind, v) => subjectOfCiphertext(v) !== undefined);
    return [...new Set(sealed.map((p) => subjectOfCiphertext(p.container[p.key])!))];
  }

  /**
   * Decrypts a stored record in place with the keys that still exist; a value whose key is gone
   * (its person was forgotten) becomes null. Returns whether any was. Reads both formats.
   */
  decrypt(entity: CompiledEntity, value: Record<string, unknown>, keys: ReadonlyMap<string, Buffer>): { forgotten: boolean } {
    let forgotten = false;
    const sealed = this.sealedPlaces(entity, value, (_kind, v) => subjectOfCiphertext(v) !== undefined);
    let opened: Array<[string, unknown]> | undefined;
    let place = 0;
    for (const p of sealed) {
      const text = p.container[p.key] as string;
      const key = keys.get(subjectOfCiphertext(text)!);
      if (!key) {
        p.container[p.key] = null;
        forgotten = true;
      } else if (!isRecordSealed(text)) p.container[p.key] = decryptValue(text, key, p.path);
      else {
        opened ??= openRecord(text, key, entity.id);
        const at = recordPlace(text);
        const entry = opened?.[at];
        // A text moved to another field, or a list reordered, is refused as a tampered value is.
        if (!entry || at !== place || entry[0] !== p.path) throw new Error(`the sealed value at ${p.path} is not the one sealed there`);
        p.container[p.key] = entry[1];
        place++;
      }
    }
    return { forgotten };
  }
}

/** Where a sealed value sits: its container and key (to replace it), and its field's path. */
interface Place {
  container: Record<string | number, unknown>;
  key: string | number;
  path: string;
}
