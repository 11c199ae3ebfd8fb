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
    return toTwosComplement(unscaledOf(value, this.scale, this.precision));
  }

  protected override _resolve(type: avro.Type): ((v: unknown) => unknown) | undefined {
    if (type instanceof DecimalType && type.scale === this.scale) return (v) => v;
    return undefined;
  }

  /** A random decimal within the precision (avsc's random bytes would overflow it), for property-based tests. */
  override random(): avro.types.LogicalType {
    const digits = BigInt(Math.floor(Math.random() * 10 ** Math.min(this.precision, 15)));
    // avsc's typings say random() returns a Type; at run time it returns a value of the type, as here.
    return formatUnscaled(Math.random() < 0.5 ? -digits : digits, this.scale) as unknown as avro.types.LogicalType;
  }

  protected override _export(schema: avro.Schema): void {
    Object.assign(schema as object, { precision: this.precision, scale: this.scale });
  }
}

/** Why a value is no decimal of the declared precision and scale: not a number at all, or one it cannot hold exactly. */
export type DecimalProblem = 'not_a_decimal' | 'out_of_range';

/**
 * The unscaled integer of a decimal given as a number or a string, or why there is none. A
 * number is read by its shortest exact text (0.1 is "0.1", 1e-7 is "0.0000001"), and digits
 * beyond the scale must be zeros: rounding an amount silently would change money.
 */
export function parseDecimal(value: unknown, scale: number, precision: number): bigint | DecimalProblem {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'not_a_decimal';
    text = plainNumber(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    return 'not_a_decimal';
  }
  const match = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) return 'not_a_decimal';
  const [, sign, whole = '', fraction = ''] = match;
  if (/[1-9]/.test(fraction.slice(scale))) return 'out_of_range';
  const digits = `${whole}${fraction.slice(0, scale).padEnd(scale, '0')}`.replace(/^0+(?=\d)/, '');
  if (digits.replace(/^0+/, '').length > precision) return 'out_of_range';
  const unscaled = BigInt(digits === '' ? '0' : digits);
  return sign === '-' ? -unscaled : unscaled;
}

/** The unscaled integer of a value already checked to be a decimal(precision, scale); anything else is a bug and throws. */
export function unscaledOf(value: unknown, scale: number, precision: number): bigint {
  const unscaled = parseDecimal(value, scale, precision);
  if (typeof unscaled !== 'bigint') throw new Error(`not a decimal(${precision},${scale}): ${unscaled}`);
  return unscaled;
}

/** A finite number as plain decimal text, without the exponent `String` uses for very large or small values. */
function plainNumber(value: number): string {
  const text = String(value);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!m) return text;
  const [, sign, lead, rest = '', exp] = m;
  const digits = `${lead}${rest}`;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  return point >= digits.length ? `${sign}${digits}${'0'.repeat(point - digits.length)}` : `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

export function formatUnscaled(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** A big-endian two's-complement integer (Avro's and Parquet's decimal bytes). */
export function fromTwosComplement(buf: Uint8Array): bigint {
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
