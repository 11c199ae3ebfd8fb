/**
 * Tracking plans (Segment Protocols, RudderStack, Snowplow's per-event schemas): per source, the
 * events it may send by name, each with a JSON Schema of its properties. A record's violations are
 * typed — an unplanned event, a required property missing, a property of the wrong type, an
 * unexpected property, a value the schema does not allow — and the plan's mode says what they do:
 * `quarantine` dead-letters the event with every violation, `flag` lands it with them as warnings.
 *
 * Properties travel as text (the contract's map of strings; a sender's number or object is kept as
 * its JSON), so a property the plan types as a number, boolean, object or array is read back from
 * that JSON before it is checked, and one that is not such JSON has the wrong type.
 *
 * The map is free text, sealed whole in the raw layer. A property the plan types as a number,
 * integer or boolean and declares not personal (`"c360.pii": "none"`, as contracts do) lands typed
 * besides, in clear: in the raw record's `plan_properties` column of that name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { z } from 'zod';
import { ConfigError, type RecordErrorCode, type RecordErrorEntry } from '../contracts/errors.js';
import { projectRoot } from '../contracts/project.js';
import { validated } from '../contracts/validation.js';
import { readPath } from './field-path.js';

const planFile = z
  .object({
    description: z.string().optional(),
    mode: z.enum(['quarantine', 'flag']).describe('quarantine: an event that breaks the plan is dead-lettered; flag: it lands flagged'),
    eventField: z.string().default('event_name').describe('the field that names the event'),
    propertiesField: z.string().default('properties').describe("the field that holds the event's properties (a map)"),
    allowUnplanned: z.boolean().default(false).describe('let events the plan does not name through without a violation'),
    events: z.record(z.string().min(1), z.record(z.string(), z.unknown())).describe("each planned event's properties as a JSON Schema"),
  })
  .strict();

export type TrackingPlanFile = z.output<typeof planFile>;

/** The raw record's column of typed properties, and the Avro types it gives them. */
export const PLAN_PROPERTIES = 'plan_properties';
const LANDED_TYPES: Record<string, 'double' | 'long' | 'boolean'> = { number: 'double', integer: 'long', boolean: 'boolean' };
/** A property lands typed only under a name a column can have. */
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface TrackingPlan {
  file: string;
  mode: TrackingPlanFile['mode'];
  /** The field that names the event. */
  eventField: string;
  /** The columns of `plan_properties`: each property that lands typed, and its Avro type. */
  landed: ReadonlyMap<string, 'double' | 'long' | 'boolean'>;
  /** The record against the plan, in one pass over its properties. */
  check(record: Record<string, unknown>): PlanVerdict;
}

interface PlanVerdict {
  /** None when it keeps to the plan (or names no event: page and screen views). */
  violations: RecordErrorEntry[];
  /** Its properties that land typed (null where absent or not of the type), or undefined when its event lands none. */
  landed: Record<string, number | boolean | null> | undefined;
}

const KEPT: PlanVerdict = { violations: [], landed: undefined };

/** JSON Schema types a property can be read back as from its text. */
const PARSED_TYPES = new Set(['number', 'integer', 'boolean', 'object', 'array', 'null']);

/** Plans loaded, by their full path: the quality stage and the dataset profile share each one. */
const LOADED = new Map<string, TrackingPlan>();

/** The plan file at `file` (relative to the project), validated and compiled once; one sentence per mistake. */
export function loadTrackingPlan(file: string): TrackingPlan {
  const full = path.resolve(projectRoot(), file);
  let loaded = LOADED.get(full);
  if (!loaded) LOADED.set(full, (loaded = readPlan(file, full)));
  return loaded;
}

function readPlan(file: string, full: string): TrackingPlan {
  let text: string;
  try {
    text = fs.readFileSync(full, 'utf8');
  } catch {
    throw new ConfigError(`tracking plan ${file} cannot be read.`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`tracking plan ${file} is not JSON: ${(err as Error).message}.`);
  }
  const plan = validated(planFile, raw, (where, message) => `tracking plan ${file} ${where || '(root)'} ${message}`);
  return compilePlan(file, plan);
}

export function compilePlan(file: string, plan: TrackingPlanFile): TrackingPlan {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats.default(ajv);
  const events = new Map<string, { validate: ValidateFunction; typed: Map<string, boolean>; landed: string[] }>();
  const landed = new Map<string, 'double' | 'long' | 'boolean'>();
  for (const [name, schema] of Object.entries(plan.events)) {
    let validate: ValidateFunction;
    try {
      validate = ajv.compile({ type: 'object', ...withoutMarks(schema) });
    } catch (err) {
      throw new ConfigError(`tracking plan ${file} event "${name}" is not a valid JSON Schema: ${(err as Error).message}.`);
    }
    const lands = landedProperties(schema);
    for (const [property, type] of lands) {
      const before = landed.get(property);
      // An integer in one event and a number in another is a double; anything else two ways is a mistake.
      const merged = before === undefined || before === type ? type : [before, type].every((t) => t !== 'boolean') ? 'double' : undefined;
      const word = (t: string | undefined) => Object.keys(LANDED_TYPES).find((k) => LANDED_TYPES[k] === t);
      if (!merged)
        throw new ConfigError(
          `tracking plan ${file} types property "${property}" as ${word(before)} in one event and ${word(type)} in "${name}": one column cannot hold both.`,
        );
      landed.set(property, merged);
    }
    events.set(name, { validate, typed: parsedProperties(schema), landed: [...lands.keys()] });
  }
  return {
    file,
    mode: plan.mode,
    eventField: plan.eventField,
    landed,
    check(record) {
      const name = readPath(record, plan.eventField);
      if (name === undefined || name === null) return KEPT;
      const event = events.get(String(name));
      if (!event) {
        if (plan.allowUnplanned) return KEPT;
        return {
          violations: [{ code: 'plan.unplanned_event', field: plan.eventField, message: `"${String(name)}" is not an event of ${file}` }],
          landed: undefined,
        };
      }
      const properties = (readPath(record, plan.propertiesField) ?? {}) as Record<string, unknown>;
      // Properties typed as other than text, read back from their JSON: what the schema checks and what lands typed.
      const view: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(properties)) view[key] = event.typed.get(key) && typeof value === 'string' ? parsed(value) : value;
      const violations = event.validate(view) ? [] : (event.validate.errors ?? []).map((e) => violation(e, plan.propertiesField));
      if (event.landed.length === 0) return { violations, landed: undefined };
      const out: Record<string, number | boolean | null> = {};
      for (const [property, type] of landed) out[property] = event.landed.includes(property) ? typedValue(view[property], type) : null;
      return { violations, landed: out };
    },
  };
}

/** Which top-level properties the schema types as something other than text: read back from their JSON. */
function parsedProperties(schema: Record<string, unknown>): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const [key, sub] of Object.entries((schema.properties ?? {}) as Record<string, { type?: string | string[] }>)) {
    const types = Array.isArray(sub.type) ? sub.type : sub.type ? [sub.type] : [];
    out.set(key, types.length > 0 && !types.includes('string') && types.some((t) => PARSED_TYPES.has(t)));
  }
  return out;
}

/** The properties of an event's schema that land typed: a number, integer or boolean, declared not personal, under a column name. */
function landedProperties(schema: Record<string, unknown>): Map<string, 'double' | 'long' | 'boolean'> {
  const out = new Map<string, 'double' | 'long' | 'boolean'>();
  for (const [key, sub] of Object.entries((schema.properties ?? {}) as Record<string, { type?: string | string[]; 'c360.pii'?: string }>)) {
    const types = (Array.isArray(sub.type) ? sub.type : sub.type ? [sub.type] : []).filter((t) => t !== 'null');
    const type = types.length === 1 ? LANDED_TYPES[types[0]!] : undefined;
    if (type && sub['c360.pii'] === 'none' && COLUMN_NAME.test(key)) out.set(key, type);
  }
  return out;
}

/** The event's schema without c360's own `c360.pii` marks on its properties, which JSON Schema does not know. */
function withoutMarks(schema: Record<string, unknown>): Record<string, unknown> {
  const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
  if (!properties) return schema;
  return { ...schema, properties: Object.fromEntries(Object.entries(properties).map(([k, { 'c360.pii': _mark, ...rest }]) => [k, rest])) };
}

/** A property's value, read back from its text, as the type it lands as; null when it is not one. */
function typedValue(value: unknown, type: 'double' | 'long' | 'boolean'): number | boolean | null {
  const v = typeof value === 'string' ? parsed(value) : value;
  if (type === 'boolean') return typeof v === 'boolean' ? v : null;
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  return type === 'long' ? (Number.isSafeInteger(v) ? v : null) : v;
}

/** The raw schema with the plan's typed properties as a column, when the plan lands any. */
export function withLandedProperties(schema: Record<string, unknown>, plan: TrackingPlan | undefined): Record<string, unknown> {
  if (!plan || plan.landed.size === 0) return schema;
  const fields = [...plan.landed].map(([name, type]) => ({ name, type: ['null', type], default: null }));
  const column = {
    name: PLAN_PROPERTIES,
    'c360.pii': 'none',
    type: ['null', { type: 'record', name: 'PlanProperties', fields }],
    default: null,
    doc: `The properties ${plan.file} types and declares not personal, typed (their text stays sealed in the properties map).`,
  };
  return { ...schema, fields: [...(schema.fields as unknown[]), column] };
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const CODES: Record<string, RecordErrorCode> = {
  required: 'plan.required_property_missing',
  type: 'plan.wrong_type',
  additionalProperties: 'plan.unexpected_property',
};

/** One schema error as a typed violation, named by the property it is about. */
function violation(e: ErrorObject, propertiesField: string): RecordErrorEntry {
  const property =
    e.keyword === 'required'
      ? String((e.params as { missingProperty: string }).missingProperty)
      : e.keyword === 'additionalProperties'
        ? String((e.params as { additionalProperty: string }).additionalProperty)
        : e.instancePath.split('/').filter(Boolean).join('.');
  return {
    code: CODES[e.keyword] ?? 'plan.invalid_value',
    field: property ? `${propertiesField}.${property}` : propertiesField,
    message: e.keyword === 'required' ? 'missing' : e.keyword === 'additionalProperties' ? 'not in the plan' : (e.message ?? e.keyword),
  };
}
