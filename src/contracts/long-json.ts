/**
 * 64-bit longs in JSON. Iceberg's ids are longs, and the snapshot ids other engines choose are
 * random ones, nearly all beyond 2^53, where a JavaScript number is no longer exact. A long is a
 * number while it is exact and a bigint beyond: so one id has one form wherever it is read (catalog
 * JSON, manifests, a command's option), equal ids compare equal, and what c360 writes (a catalog
 * request, a log line, a command's --json answer) says it to the last digit.
 */
export type Long = number | bigint;

const INTEGER = /^-?\d+$/;

/** The long a decimal text says, exactly. */
export function parseLong(text: string): Long {
  if (!INTEGER.test(text)) throw new Error(`${text} is not a whole number`);
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** JSON whose whole numbers beyond 2^53 are read exactly, as bigints. */
export function parseLongJson(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && INTEGER.test(context.source) ? BigInt(context.source) : value,
  );
}

// In Node since 21; not yet in TypeScript's lib.
const { rawJSON } = JSON as JSON & { rawJSON(text: string): unknown };

/** JSON with bigints written as the whole numbers they are. */
export function stringifyLongJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? rawJSON(v.toString()) : v));
}
