/**
 * Dataset checks (Deequ's and Great Expectations' volume, freshness, completeness and anomaly
 * checks), computed from the ledger: every committed batch's counts per source, and per event its
 * records, null fields and properties (record-profile.ts), exactly once. An hour is compared with
 * the same hour of the week in the four weeks before it, so a source that is always quiet on
 * Sunday nights does not alarm, and one that halves on a Tuesday morning does. Per source:
 *
 * - `silent`: no record in the hour, where each of those hours (two at least) had some;
 * - `volume_low`: fewer records than 60 % of the lowest of those hours;
 * - `volume_high`: more than twice the highest of them;
 * - `quarantine_share`: a dead-lettered share over the highest of theirs by 5 points or more;
 * - `new_code`: an error or warning code (a quality rule, a tracking-plan violation) that none of
 *   the four weeks before saw for the source.
 *
 * Per event of the source, the three volume checks on the event's own records, and:
 *
 * - `new_event`: an event none of the four weeks before saw;
 * - `null_share`: a field null in a share of the records over the highest of those hours' by 10 points;
 * - `new_property`: a property none of the four weeks before saw on the event: drift, plan or no plan;
 * - `vanished_property`: a property that at least half the event's records carried in each of those
 *   hours, and none does now.
 *
 * A source with less than one week of history is still learning and gets no verdict. Shares are
 * judged over hours with at least 20 records. Nothing here reads a record: the ledger holds counts,
 * codes and names only, so no personal data is involved.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';
import { describeError } from '../contracts/errors.js';
import type { LedgerEntry } from '../contracts/ledger.js';
import type { Logger } from './logger.js';
import { perRegistry } from './metrics.js';
import { EventProfiles } from './record-profile.js';

const HOUR_MS = 3_600_000;
const WEEK_MS = 7 * 24 * HOUR_MS;
/** How far back the checks look: four weeks before the hour checked. */
const HISTORY_MS = 4 * WEEK_MS + HOUR_MS;
const LOW_FRACTION = 0.6;
const HIGH_FACTOR = 2;
const SHARE_MARGIN = 0.05;
const NULL_MARGIN = 0.1;
/** A property carried by at least this share of an event's records in every hour compared is expected. */
const EXPECTED_SHARE = 0.5;
/** Shares are judged only over hours with at least this many records. */
const MIN_RECORDS_FOR_SHARE = 20;

const SOURCE_CHECKS = ['silent', 'volume_low', 'volume_high', 'quarantine_share', 'new_code'] as const;
const EVENT_CHECKS = ['silent', 'volume_low', 'volume_high', 'new_event', 'null_share', 'new_property', 'vanished_property'] as const;
type DatasetCheck = (typeof SOURCE_CHECKS)[number] | (typeof EVENT_CHECKS)[number];

interface Hour {
  in: number;
  deadLetter: number;
  codes: Set<string>;
  events: EventProfiles;
}

interface CheckOutcome {
  check: DatasetCheck;
  failing: boolean;
  /** What the hour had, and the range the weeks before set; or why there is no verdict. */
  detail: string;
}

interface EventVerdict {
  event: string;
  records: number;
  checks: CheckOutcome[];
}

export interface SourceVerdict {
  source: string;
  /** The hour checked, [start, start + 1 h). */
  hour: string;
  records: number;
  learning: boolean;
  checks: CheckOutcome[];
  /** Each event the hour or the weeks compared had. */
  events: EventVerdict[];
}

const emptyHour = (): Hour => ({ in: 0, deadLetter: 0, codes: new Set(), events: new EventProfiles() });
const outcome = (check: DatasetCheck, failing: boolean, detail: string): CheckOutcome => ({ check, failing, detail });
const percent = (share: number) => `${(share * 100).toFixed(1)} %`;

/** The volume checks of an hour's records against the same hours of the weeks before. */
function volumeChecks(records: number, past: number[]): CheckOutcome[] {
  const low = Math.min(...past);
  const high = Math.max(...past);
  const detail = `${records} records; the same hour of the last ${past.length} week(s): ${low}..${high}`;
  return [
    outcome('silent', past.length >= 2 && low > 0 && records === 0, detail),
    outcome('volume_low', records > 0 && records < LOW_FRACTION * low, detail),
    outcome('volume_high', records > HIGH_FACTOR * high && high > 0, detail),
  ];
}

/** Hourly counts per source, from ledger entries by their commit time; hours older than the checks need are dropped. */
export class LedgerHistory {
  private readonly hours = new Map<string, Map<number, Hour>>();
  private readonly firstSeen = new Map<string, number>();

  add(entry: LedgerEntry): void {
    const at = Date.parse(entry.committed_at);
    if (!Number.isFinite(at)) return;
    const start = Math.floor(at / HOUR_MS) * HOUR_MS;
    let bySource = this.hours.get(entry.source);
    if (!bySource) this.hours.set(entry.source, (bySource = new Map()));
    let hour = bySource.get(start);
    if (!hour) bySource.set(start, (hour = emptyHour()));
    hour.in += entry.in;
    hour.deadLetter += entry.dead_letter;
    for (const code of Object.keys(entry.errors)) hour.codes.add(code);
    if (entry.events) hour.events.add(entry.events);
    this.firstSeen.set(entry.source, Math.min(this.firstSeen.get(entry.source) ?? at, at));
  }

  /** Drops hours the checks at `now` no longer look at. */
  prune(now: number): void {
    for (const bySource of this.hours.values()) for (const start of bySource.keys()) if (start < now - HISTORY_MS - HOUR_MS) bySource.delete(start);
  }

  sources(): string[] {
    return [...this.hours.keys()].sort();
  }

  /** The checks of each source for the last complete hour before `now`. */
  evaluate(now: number): SourceVerdict[] {
    const checked = Math.floor(now / HOUR_MS) * HOUR_MS - HOUR_MS;
    return this.sources().map((source) => this.verdict(source, checked));
  }

  private verdict(source: string, start: number): SourceVerdict {
    const hours = this.hours.get(source)!;
    const hour = hours.get(start) ?? emptyHour();
    const base = { source, hour: new Date(start).toISOString(), records: hour.in };
    // The same hour of the week, one to four weeks before; those the source did not exist for yet do not count.
    const first = this.firstSeen.get(source) ?? start;
    const weeks = [1, 2, 3, 4].map((w) => start - w * WEEK_MS).filter((t) => t >= Math.floor(first / HOUR_MS) * HOUR_MS);
    if (weeks.length === 0) return { ...base, learning: true, checks: [], events: [] };
    const past = weeks.map((t) => hours.get(t) ?? emptyHour());
    // Codes, events and properties are new when no hour of the four weeks had them, at any time of day.
    const earlier = [...hours].filter(([t]) => t < start && t >= start - 4 * WEEK_MS).map(([, h]) => h);
    const shares = past.filter((h) => h.in >= MIN_RECORDS_FOR_SHARE).map((h) => h.deadLetter / h.in);
    const share = hour.in > 0 ? hour.deadLetter / hour.in : 0;
    const pastCodes = new Set(earlier.flatMap((h) => [...h.codes]));
    const newCodes = [...hour.codes].filter((c) => !pastCodes.has(c)).sort();
    const events = new Set([...hour.events.names(), ...past.flatMap((h) => h.events.names())]);
    return {
      ...base,
      learning: false,
      checks: [
        ...volumeChecks(
          hour.in,
          past.map((h) => h.in),
        ),
        outcome(
          'quarantine_share',
          hour.in >= MIN_RECORDS_FOR_SHARE && shares.length > 0 && share > Math.max(...shares) + SHARE_MARGIN,
          `${percent(share)} dead-lettered; at most ${shares.length ? percent(Math.max(...shares)) : '–'} before`,
        ),
        outcome('new_code', newCodes.length > 0, newCodes.length ? `codes not seen in four weeks: ${newCodes.join(', ')}` : 'no new code'),
      ],
      events: [...events].sort().map((event) => eventVerdict(event, hour, past, earlier)),
    };
  }
}

/** One event's checks: its hour against the same hours of the weeks before (`past`) and every hour of them (`earlier`). */
function eventVerdict(event: string, hour: Hour, past: Hour[], earlier: Hour[]): EventVerdict {
  const empty = { records: 0, nulls: new Map<string, number>(), properties: new Map<string, number>() };
  const now = hour.events.get(event) ?? empty;
  const before = past.map((h) => h.events.get(event) ?? empty);
  const seen = earlier.some((h) => h.events.get(event));
  const judged = now.records >= MIN_RECORDS_FOR_SHARE;
  const comparable = before.filter((p) => p.records >= MIN_RECORDS_FOR_SHARE);

  const nullShares = judged
    ? [...now.nulls]
        .map(([field, n]) => ({ field, share: n / now.records, before: Math.max(0, ...comparable.map((p) => (p.nulls.get(field) ?? 0) / p.records)) }))
        .filter((f) => comparable.length > 0 && f.share > f.before + NULL_MARGIN)
    : [];
  const pastProperties = new Set(earlier.flatMap((h) => [...(h.events.get(event)?.properties.keys() ?? [])]));
  const newProperties = seen ? [...now.properties.keys()].filter((p) => !pastProperties.has(p)).sort() : [];
  const expected =
    comparable.length > 0
      ? [...(comparable[0]?.properties.keys() ?? [])].filter((p) => comparable.every((c) => (c.properties.get(p) ?? 0) >= EXPECTED_SHARE * c.records))
      : [];
  const vanished = judged ? expected.filter((p) => !now.properties.has(p)).sort() : [];
  return {
    event,
    records: now.records,
    checks: [
      ...volumeChecks(
        now.records,
        before.map((p) => p.records),
      ),
      outcome('new_event', !seen && now.records > 0, seen ? 'seen before' : 'not seen in four weeks'),
      outcome(
        'null_share',
        nullShares.length > 0,
        nullShares.length
          ? nullShares.map((f) => `${f.field} null in ${percent(f.share)}, at most ${percent(f.before)} before`).join('; ')
          : 'no field more often null',
      ),
      outcome(
        'new_property',
        newProperties.length > 0,
        newProperties.length ? `properties not seen in four weeks: ${newProperties.join(', ')}` : 'no new property',
      ),
      outcome('vanished_property', vanished.length > 0, vanished.length ? `properties carried before and gone: ${vanished.join(', ')}` : 'no property gone'),
    ],
  };
}

/** A verdict's failing checks, the source's first, each with the event it is about (none for the source's own). */
export function failures(v: SourceVerdict): Array<CheckOutcome & { event?: string }> {
  return [...v.checks, ...v.events.flatMap((e) => e.checks.map((c) => ({ ...c, event: e.event })))].filter((c) => c.failing);
}

const datasetMetrics = perRegistry((registry: Registry) => ({
  failing: new Gauge({
    name: 'c360_dataset_check_failing',
    help: `Whether a dataset check fails over the last complete hour (1) or not (0): per source (no event label) ${SOURCE_CHECKS.join(', ')}; per event ${EVENT_CHECKS.join(', ')}`,
    labelNames: ['source', 'check', 'event'],
    registers: [registry],
  }),
  records: new Gauge({
    name: 'c360_dataset_hour_records',
    help: 'Records the source sent in the last complete hour, as the ledger counts them',
    labelNames: ['source'],
    registers: [registry],
  }),
  eventRecords: new Gauge({
    name: 'c360_dataset_event_hour_records',
    help: 'Records of the event the source sent in the last complete hour (decoded ones: a record that did not decode has no event)',
    labelNames: ['source', 'event'],
    registers: [registry],
  }),
  learning: new Gauge({
    name: 'c360_dataset_learning',
    help: 'Whether the source has less than a week of history, so its checks give no verdict yet (1)',
    labelNames: ['source'],
    registers: [registry],
  }),
}));

/** The verdicts as gauges, made anew each time: a check that no longer fails goes back to 0, an event no longer compared goes. */
export function exportVerdicts(registry: Registry, verdicts: SourceVerdict[]): void {
  const m = datasetMetrics(registry);
  for (const gauge of Object.values(m)) gauge.reset();
  const failing = (checks: CheckOutcome[], check: DatasetCheck) => (checks.find((c) => c.check === check)?.failing ? 1 : 0);
  for (const v of verdicts) {
    m.records.set({ source: v.source }, v.records);
    m.learning.set({ source: v.source }, v.learning ? 1 : 0);
    for (const check of SOURCE_CHECKS) m.failing.set({ source: v.source, check, event: '' }, failing(v.checks, check));
    for (const e of v.events) {
      m.eventRecords.set({ source: v.source, event: e.event }, e.records);
      for (const check of EVENT_CHECKS) m.failing.set({ source: v.source, check, event: e.event }, failing(e.checks, check));
    }
  }
}

/**
 * Follows the ledger topic from four weeks and an hour back into `history`, and keeps following
 * it; `caughtUp` resolves once it has read what the topic held when it started, so no verdict is
 * made on half a history.
 */
export async function followLedger(
  kafka: Kafka,
  topic: string,
  history: LedgerHistory,
  now: number,
  logger: Logger,
): Promise<{ caughtUp: Promise<void>; stop(): Promise<void> }> {
  const admin = kafka.admin();
  await admin.connect();
  let starts: Array<{ partition: number; offset: string }>;
  let ends: Array<{ partition: number; high: string }>;
  try {
    ends = await admin.fetchTopicOffsets(topic);
    starts = await admin.fetchTopicOffsetsByTimestamp(topic, now - HISTORY_MS);
  } finally {
    await admin.disconnect();
  }
  const high = new Map(ends.map((e) => [e.partition, e.high]));
  // A partition with nothing since then (the broker answers -1) is read from its end.
  const from = new Map(starts.map((s) => [s.partition, s.offset === '-1' ? (high.get(s.partition) ?? '0') : s.offset]));
  const remaining = new Map(ends.filter((e) => BigInt(e.high) > BigInt(from.get(e.partition) ?? '0')).map((e) => [e.partition, BigInt(e.high) - 1n]));
  let resolve!: () => void;
  const caughtUp = new Promise<void>((r) => (resolve = r));
  if (remaining.size === 0) resolve();
  const consumer = kafka.consumer({ groupId: `c360-checks-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      try {
        history.add(JSON.parse(message.value?.toString() ?? '') as LedgerEntry);
      } catch (err) {
        logger.warn({ topic, partition, offset: message.offset, err: describeError(err) }, 'a ledger entry that is not JSON was skipped');
      }
      const last = remaining.get(partition);
      if (last !== undefined && BigInt(message.offset) >= last) {
        remaining.delete(partition);
        if (remaining.size === 0) resolve();
      }
    },
  });
  // Four weeks and an hour back, not the topic's whole history: the ledger is kept for ever.
  for (const [partition, offset] of from) consumer.seek({ topic, partition, offset });
  return { caughtUp, stop: () => consumer.disconnect() };
}
