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

export interface TrackingPlan {
  file: string;
  mode: TrackingPlanFile['mode'];
  /** The field that names the event. */
  eventField: string;
  /** The record's violations, none when it keeps to the plan (or names no event: page and screen views). */
  check(record: Record<string, unknown>): RecordErrorEntry[];
}

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
  const events = new Map<string, { validate: ValidateFunction; typed: Map<string, boolean> }>();
  for (const [name, schema] of Object.entries(plan.events)) {
    let validate: ValidateFunction;
    try {
      validate = ajv.compile({ type: 'object', ...schema });
    } catch (err) {
      throw new ConfigError(`tracking plan ${file} event "${name}" is not a valid JSON Schema: ${(err as Error).message}.`);
    }
    events.set(name, { validate, typed: parsedProperties(schema) });
  }
  return {
    file,
    mode: plan.mode,
    eventField: plan.eventField,
    check(record) {
      const name = readPath(record, plan.eventField);
      if (name === undefined || name === null) return [];
      const event = events.get(String(name));
      if (!event) {
        return plan.allowUnplanned ? [] : [{ code: 'plan.unplanned_event', field: plan.eventField, message: `"${String(name)}" is not an event of ${file}` }];
      }
      const properties = (readPath(record, plan.propertiesField) ?? {}) as Record<string, unknown>;
      const view: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(properties)) view[key] = event.typed.get(key) && typeof value === 'string' ? parsed(value) : value;
      if (event.validate(view)) return [];
      return (event.validate.errors ?? []).map((e) => violation(e, plan.propertiesField));
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
