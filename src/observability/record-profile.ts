/**
 * What the dataset checks learn from a record without keeping any of its values: which event it is,
 * which of its fields are null, and which properties its maps carry. The decode stage observes each
 * record as it arrives (before any value is sealed); the router sums a batch's observations into
 * its ledger entry, per event (docs/stewardship.md: Dataset checks).
 *
 * A record's event is the value of its source's tracking-plan event field, else of its contract's
 * `event_name` field, else its entity's name (a CRM profile is a `CustomerProfile`). Names reach the
 * ledger and metric labels, so only names that look like names do: one that is long, holds an `@`,
 * a run of six digits or other characters (a property's key a space too: a key is an identifier,
 * "Ann Lee" is not), counts as `(other)` — as do the events of a batch beyond the hundredth and the
 * properties of an event beyond the two hundredth.
 */
import type { EventProfile } from '../contracts/ledger.js';
import type { CompiledEntity } from '../schema/entity.js';
import { readPath } from '../schema/field-path.js';
import { fieldsOfSchema, holdsMap, holdsNull, walkFields } from '../schema/schema-fields.js';
import { loadTrackingPlan } from '../schema/tracking-plan.js';

export interface Observation {
  event: string;
  /** The paths of its nullable fields that are null (or inside a null record). */
  nulls: readonly string[];
  /** `<map field>.<key>` for each key of each of its map fields (`properties.order_id`). */
  properties: readonly string[];
}

export const OTHER = '(other)';
const MAX_EVENTS = 100;
const MAX_PROPERTIES = 200;
const NAME = /^[\p{L}\p{N}][\p{L}\p{N} _.:/-]{0,63}$/u;
const KEY = /^[\p{L}\p{N}_][\p{L}\p{N}_.:/-]{0,63}$/u;
const DIGITS = /\d{6}/;
const NONE: readonly string[] = [];

/** Names as they are when they look like `pattern`, else `(other)`: no value a person can be found by reaches a label. */
const named =
  (pattern: RegExp) =>
  (name: string): string =>
    pattern.test(name) && !DIGITS.test(name) ? name : OTHER;

export const safeName = named(NAME);
const safeKey = named(KEY);

interface Shape {
  eventField: string | undefined;
  /** Each nullable field's path, and its steps from the record. */
  nullable: Array<{ path: string; keys: string[] }>;
  maps: string[];
}

const SHAPES = new WeakMap<CompiledEntity, Shape>();

function shapeOf(entity: CompiledEntity): Shape {
  let shape = SHAPES.get(entity);
  if (!shape) {
    const fields = fieldsOfSchema(entity.schema);
    const plan = entity.primary && entity.definition.plan ? loadTrackingPlan(entity.definition.plan) : undefined;
    const nullable: Shape['nullable'] = [];
    // Fields inside arrays have no one value per record: left out.
    walkFields(fields, (f, path, nested) => {
      if (holdsNull(f.type)) nullable.push({ path, keys: path.split('.') });
      return !nested?.many;
    });
    SHAPES.set(
      entity,
      (shape = {
        eventField: plan?.eventField ?? (fields.some((f) => f.name === 'event_name') ? 'event_name' : undefined),
        nullable,
        maps: fields.filter((f) => holdsMap(f.type)).map((f) => f.name),
      }),
    );
  }
  return shape;
}

export function observe(entity: CompiledEntity, value: Record<string, unknown>): Observation {
  const shape = shapeOf(entity);
  const named = shape.eventField === undefined ? undefined : readPath(value, shape.eventField);
  const event = named === undefined || named === null || named === '' ? entity.name : safeName(String(named));
  let nulls: string[] | undefined;
  for (const { path, keys } of shape.nullable) {
    let v: unknown = value;
    for (let i = 0; i < keys.length && v !== null && v !== undefined; i++) v = (v as Record<string, unknown>)[keys[i]!];
    if (v === null || v === undefined) (nulls ??= []).push(path);
  }
  let properties: string[] | undefined;
  for (const field of shape.maps) {
    const map = value[field];
    if (map !== null && typeof map === 'object') for (const key of Object.keys(map)) (properties ??= []).push(`${field}.${safeKey(key)}`);
  }
  return { event, nulls: nulls ?? NONE, properties: properties ?? NONE };
}

interface Counts {
  records: number;
  nulls: Map<string, number>;
  properties: Map<string, number>;
}

const bump = (counts: Map<string, number>, name: string, n: number) => counts.set(name, (counts.get(name) ?? 0) + n);

/** Per event, what a batch's or an hour's records had: summed from observations, or from ledger entries. */
export class EventProfiles {
  private readonly events = new Map<string, Counts>();

  private counts(event: string): Counts {
    const name = this.events.has(event) || this.events.size < MAX_EVENTS ? event : OTHER;
    let c = this.events.get(name);
    if (!c) this.events.set(name, (c = { records: 0, nulls: new Map(), properties: new Map() }));
    return c;
  }

  private property(c: Counts, name: string, n: number): void {
    bump(c.properties, c.properties.has(name) || c.properties.size < MAX_PROPERTIES ? name : `${name.slice(0, name.indexOf('.') + 1)}${OTHER}`, n);
  }

  observe(o: Observation): void {
    const c = this.counts(o.event);
    c.records++;
    for (const path of o.nulls) bump(c.nulls, path, 1);
    for (const name of o.properties) this.property(c, name, 1);
  }

  /** Adds a ledger entry's profiles; what is not a count (a ledger entry written by something else) is left out. */
  add(events: Record<string, EventProfile>): void {
    if (typeof events !== 'object' || events === null) return;
    const counted = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
    const entries = (v: unknown) => (typeof v === 'object' && v !== null ? Object.entries(v) : []);
    for (const [event, p] of Object.entries(events)) {
      if (typeof p !== 'object' || p === null || !counted(p.records)) continue;
      const c = this.counts(safeName(event));
      c.records += p.records;
      for (const [path, n] of entries(p.nulls)) if (counted(n)) bump(c.nulls, path, n);
      for (const [name, n] of entries(p.properties)) if (counted(n)) this.property(c, name, n);
    }
  }

  get size(): number {
    return this.events.size;
  }

  names(): string[] {
    return [...this.events.keys()];
  }

  get(event: string): Readonly<Counts> | undefined {
    return this.events.get(event);
  }

  toJSON(): Record<string, EventProfile> {
    const out: Record<string, EventProfile> = {};
    for (const [event, c] of this.events) out[event] = { records: c.records, nulls: Object.fromEntries(c.nulls), properties: Object.fromEntries(c.properties) };
    return out;
  }
}
