/**
 * ISO 8601 dates and timestamps read strictly: every part is range-checked, so 30 February or
 * 24:30 is refused instead of rolling over the way `Date.parse` does. A timestamp without a zone
 * is UTC (never the host's zone); digits below the millisecond are beyond `timestamp-millis` and
 * are dropped, as the contract's precision says (docs/contracts.md).
 */
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const DAY_MS = 86_400_000;
/** The instants a JavaScript Date can hold: ±100,000,000 days around the epoch. */
export const MAX_EPOCH_MS = 8_640_000_000_000_000;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil): no Date, so years 0–99 stay themselves. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function calendarDays(y: string, mo: string, d: string): number | undefined {
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return daysFromCivil(year, month, day);
}

/** A YYYY-MM-DD date that exists, as days since the epoch (Avro `date`). */
export function parseIsoDate(text: string): number | undefined {
  const m = DATE.exec(text);
  return m ? calendarDays(m[1]!, m[2]!, m[3]!) : undefined;
}

/** An ISO 8601 date or date-time that exists, as epoch milliseconds (Avro `timestamp-millis`). */
export function parseIsoTimestamp(text: string): number | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const days = calendarDays(m[1]!, m[2]!, m[3]!);
  if (days === undefined) return undefined;
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const millis = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const digits = zone.replace(':', '');
    const [h, mi] = [Number(digits.slice(1, 3)), Number(digits.slice(3, 5))];
    if (h > 23 || mi > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (h * 60 + mi);
  }
  const ms = days * DAY_MS + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + millis;
  return Math.abs(ms) <= MAX_EPOCH_MS ? ms : undefined;
}
