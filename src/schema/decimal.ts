/**
 * Avro `decimal` (bytes) as an exact decimal string ("12.30"): avsc leaves the logical type to
 * the application, and strings keep amounts exact through JSON, Avro and Parquet alike.
 */
import avro from 'avsc';

export class DecimalType extends avro.types.LogicalType {
  readonly precision: number;
  readonly scale: number;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    const attrs = schema as { precision?: number; scale?: number };
    this.precision = attrs.precision ?? 38;
    this.scale = attrs.scale ?? 0;
  }

  protected override _fromValue(buf: Buffer): string {
    return formatUnscaled(fromTwosComplement(buf), this.scale);
  }

  protected override _toValue(value: unknown): Buffer {
    const unscaled = parseDecimal(value, this.scale, this.precision);
    if (unscaled === undefined) throw new Error(`not a decimal(${this.precision},${this.scale})`);
    return toTwosComplement(unscaled);
  }

  protected override _resolve(type: avro.Type): ((v: unknown) => unknown) | undefined {
    if (type instanceof DecimalType && type.scale === this.scale) return (v) => v;
    return undefined;
  }

  protected override _export(schema: avro.Schema): void {
    Object.assign(schema as object, { precision: this.precision, scale: this.scale });
  }
}

/** The unscaled integer of a decimal given as a number or a string, or undefined if it does not fit precision/scale. */
export function parseDecimal(value: unknown, scale: number, precision: number): bigint | undefined {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    text = value.toFixed(Math.min(scale + 2, 20));
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    return undefined;
  }
  const match = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) return undefined;
  const [, sign, whole = '', fraction = ''] = match;
  // Digits beyond the scale must be zeros: rounding an amount silently would change money.
  if (/[1-9]/.test(fraction.slice(scale))) return undefined;
  const digits = `${whole}${fraction.slice(0, scale).padEnd(scale, '0')}`.replace(/^0+(?=\d)/, '');
  if (digits.replace(/^0+/, '').length > precision) return undefined;
  const unscaled = BigInt(digits === '' ? '0' : digits);
  return sign === '-' ? -unscaled : unscaled;
}

export function formatUnscaled(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

function fromTwosComplement(buf: Buffer): bigint {
  if (buf.length === 0) return 0n;
  let n = 0n;
  for (const byte of buf) n = (n << 8n) | BigInt(byte);
  return buf[0]! & 0x80 ? n - (1n << BigInt(buf.length * 8)) : n;
}

function toTwosComplement(n: bigint): Buffer {
  let bytes = 1;
  while (n < -(1n << BigInt(bytes * 8 - 1)) || n >= 1n << BigInt(bytes * 8 - 1)) bytes++;
  let v = n < 0n ? (1n << BigInt(bytes * 8)) + n : n;
  const out = Buffer.alloc(bytes);
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
