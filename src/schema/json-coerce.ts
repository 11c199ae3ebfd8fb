/**
 * Checks a JSON record against an entity's Avro schema and converts it to the Avro value the
 * rest of the topology uses: ISO-8601 timestamps and dates become their logical types, decimals
 * exact strings. Compiled once per schema; every problem is a typed error with its field path.
 * Messages never quote the value (it may be personal data).
 */
import type { RecordErrorEntry } from '../contracts/errors.js';
import { formatUnscaled, parseDecimal } from './decimal.js';
import { MAX_EPOCH_MS, parseIsoDate, parseIsoTimestamp } from './iso-time.js';

type Schema = string | Schema[] | { [key: string]: unknown };
type Coercer = (value: unknown, path: string, errors: RecordErrorEntry[]) => unknown;

const MAX_EPOCH_DAYS = MAX_EPOCH_MS / 86_400_000;

export function compileJsonCoercer(schema: unknown): (value: unknown) => { value: unknown; errors: RecordErrorEntry[] } {
  const named = new Map<string, Coercer>();
  const root = compile(schema as Schema, named, undefined);
  return (value) => {
    const errors: RecordErrorEntry[] = [];
    const out = root(value, '', errors);
    return { value: out, errors };
  };
}

const wrong = (path: string, expected: string): RecordErrorEntry => ({
  code: 'schema.wrong_type',
  field: path || null,
  message: `expected ${expected}`,
});

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function compile(schema: Schema, named: Map<string, Coercer>, namespace: string | undefined): Coercer {
  if (typeof schema === 'string') {
    const ref = named.get(schema) ?? named.get(`${namespace}.${schema}`);
    if (ref) return (v, p, e) => ref(v, p, e);
    return primitive(schema, undefined);
  }
  if (Array.isArray(schema)) return union(schema, named, namespace);
  const type = schema.type as Schema;
  const logical = schema.logicalType as string | undefined;
  if (type === 'record' || type === 'error') return record(schema, named, namespace);
  if (type === 'enum') {
    const symbols = new Set(schema.symbols as string[]);
    const enumCoercer: Coercer = (v, p, e) => {
      if (typeof v !== 'string') return void e.push(wrong(p, 'an enum symbol'));
      if (!symbols.has(v)) return void e.push({ code: 'schema.enum_not_allowed', field: p || null, message: `not one of ${[...symbols].join(', ')}` });
      return v;
    };
    register(named, schema, namespace, enumCoercer);
    return enumCoercer;
  }
  if (type === 'array') {
    const items = compile(schema.items as Schema, named, namespace);
    return (v, p, e) => {
      if (!Array.isArray(v)) return void e.push(wrong(p, 'an array'));
      return v.map((item, i) => items(item, `${p}[${i}]`, e));
    };
  }
  if (type === 'map') {
    const values = compile(schema.values as Schema, named, namespace);
    return (v, p, e) => {
      if (!isPlainObject(v)) return void e.push(wrong(p, 'an object (map)'));
      // No prototype: a key named __proto__ is kept as a key, not taken as the object's prototype.
      const out: Record<string, unknown> = Object.create(null);
      for (const [k, item] of Object.entries(v)) {
        // The key names no field path it could be shown in: the map is named instead.
        if (!k.isWellFormed()) {
          e.push({ code: 'decode.invalid_utf8', field: p || null, message: 'a map key holds a lone UTF-16 surrogate, which UTF-8 cannot hold' });
          continue;
        }
        out[k] = values(item, `${p}.${k}`, e);
      }
      return out;
    };
  }
  if (type === 'fixed') return primitive('bytes', undefined);
  if (typeof type === 'string') {
    if (logical === 'decimal' && type === 'bytes') {
      const scale = (schema.scale as number | undefined) ?? 0;
      const precision = (schema.precision as number | undefined) ?? 38;
      return (v, p, e) => {
        const unscaled = parseDecimal(v, scale, precision);
        if (unscaled === 'not_a_decimal') return void e.push(wrong(p, 'a decimal number'));
        if (unscaled === 'out_of_range')
          return void e.push({
            code: 'schema.decimal_out_of_range',
            field: p || null,
            message: `more than ${precision} digits or ${scale} decimals; amounts are never rounded`,
          });
        return formatUnscaled(unscaled, scale);
      };
    }
    return primitive(type, logical);
  }
  return compile(type, named, namespace);
}

function register(named: Map<string, Coercer>, schema: Record<string, unknown>, namespace: string | undefined, coercer: Coercer): string | undefined {
  const name = schema.name as string | undefined;
  if (!name) return namespace;
  const ns = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : ((schema.namespace as string | undefined) ?? namespace);
  const full = name.includes('.') ? name : ns ? `${ns}.${name}` : name;
  named.set(full, coercer);
  named.set(name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : name, coercer);
  return ns;
}

function record(schema: Record<string, unknown>, named: Map<string, Coercer>, namespace: string | undefined): Coercer {
  const fields: { name: string; coerce: Coercer; nullable: boolean; hasDefault: boolean; default: unknown }[] = [];
  const coercer: Coercer = (v, p, e) => {
    if (!isPlainObject(v)) return void e.push(wrong(p, 'an object (record)'));
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      const path = p ? `${p}.${f.name}` : f.name;
      const raw = v[f.name];
      if (raw === undefined || (raw === null && !f.nullable)) {
        if (f.hasDefault && raw === undefined) {
          out[f.name] = structuredClone(f.default);
        } else {
          e.push({ code: 'schema.missing_required', field: path, message: 'required field is missing' });
        }
        continue;
      }
      out[f.name] = f.coerce(raw, path, e);
    }
    return out;
  };
  // Registered before the fields compile, so recursive types resolve.
  const ns = register(named, schema, namespace, coercer);
  for (const field of schema.fields as { name: string; type: Schema; default?: unknown }[]) {
    fields.push({
      name: field.name,
      coerce: compile(field.type, named, ns),
      nullable: Array.isArray(field.type) ? field.type.includes('null') : field.type === 'null',
      hasDefault: 'default' in field,
      default: field.default,
    });
  }
  return coercer;
}

function union(branches: Schema[], named: Map<string, Coercer>, namespace: string | undefined): Coercer {
  const nonNull = branches.filter((b) => b !== 'null');
  const coercers = nonNull.map((b) => compile(b, named, namespace));
  return (v, p, e) => {
    if (v === null || v === undefined) {
      if (branches.includes('null')) return null;
      return void e.push({ code: 'schema.missing_required', field: p || null, message: 'required field is missing' });
    }
    if (coercers.length === 1) return coercers[0]!(v, p, e);
    // Several non-null branches: the first that accepts the value wins.
    for (const c of coercers) {
      const attempt: RecordErrorEntry[] = [];
      const out = c(v, p, attempt);
      if (attempt.length === 0) return out;
    }
    return void e.push(wrong(p, 'a value of one of the union branches'));
  };
}

function primitive(type: string, logical: string | undefined): Coercer {
  switch (type) {
    case 'null':
      return (v, p, e) => (v === null ? null : void e.push(wrong(p, 'null')));
    case 'boolean':
      return (v, p, e) => (typeof v === 'boolean' ? v : void e.push(wrong(p, 'a boolean')));
    case 'string':
      return (v, p, e) => {
        if (typeof v !== 'string') return void e.push(wrong(p, 'a string'));
        // A lone surrogate (an escaped "\ud800") has no UTF-8 form: encoding would put U+FFFD in its place.
        if (!v.isWellFormed())
          return void e.push({ code: 'decode.invalid_utf8', field: p || null, message: 'a lone UTF-16 surrogate, which UTF-8 cannot hold' });
        return v;
      };
    case 'float':
    case 'double':
      return (v, p, e) => (typeof v === 'number' && Number.isFinite(v) ? v : void e.push(wrong(p, 'a number')));
    case 'bytes':
      return (v, p, e) => (typeof v === 'string' ? Buffer.from(v, 'base64') : void e.push(wrong(p, 'base64 bytes')));
    case 'int':
      if (logical === 'date') {
        return (v, p, e) => {
          if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= MAX_EPOCH_DAYS) return v;
          const days = typeof v === 'string' ? parseIsoDate(v) : undefined;
          if (days === undefined) return void e.push(wrong(p, 'an ISO-8601 date (YYYY-MM-DD) that exists'));
          return days;
        };
      }
      return (v, p, e) => (typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647 ? v : void e.push(wrong(p, 'a 32-bit integer')));
    case 'long':
      if (logical === 'timestamp-millis' || logical === 'local-timestamp-millis') {
        return (v, p, e) => {
          if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= MAX_EPOCH_MS) return v;
          const ms = typeof v === 'string' ? parseIsoTimestamp(v) : undefined;
          if (ms === undefined) return void e.push(wrong(p, 'an ISO-8601 timestamp that exists, or epoch milliseconds'));
          return ms;
        };
      }
      return (v, p, e) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : void e.push(wrong(p, 'an integer')));
    default:
      return (_v, p, e) => void e.push(wrong(p, `a ${type}`));
  }
}
