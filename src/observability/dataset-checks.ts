/**
 * Dataset checks (Deequ's and Great Expectations' volume, freshness and anomaly checks), computed
 * from the ledger: every committed batch's counts per source, exactly once. Each source's last
 * complete hour is compared with the same hour of the week in the four weeks before it, so a
 * source that is always quiet on Sunday nights does not alarm, and one that halves on a Tuesday
 * morning does:
 *
 * - `silent`: no record in the hour, where each of those hours (two at least) had some;
 * - `volume_low`: fewer records than 60 % of the lowest of those hours;
 * - `volume_high`: more than twice the highest of them;
 * - `quarantine_share`: a dead-lettered share over the highest of theirs by 5 points or more;
 * - `new_code`: an error or warning code (a quality rule, a tracking-plan violation: an unexpected
 *   or missing property) that none of the four weeks before saw for the source: drift.
 *
 * A source with less than one week of history is still learning and gets no verdict. Nothing here
 * reads a record: the ledger holds counts and codes only, so no personal data is involved.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';
import { describeError } from '../contracts/errors.js';
import type { LedgerEntry } from '../contracts/ledger.js';
import type { Logger } from './logger.js';
import { perRegistry } from './metrics.js';

const HOUR_MS = 3_600_000;
const WEEK_MS = 7 * 24 * HOUR_MS;
/** How far back the checks look: four weeks before the hour checked. */
const HISTORY_MS = 4 * WEEK_MS + HOUR_MS;
const LOW_FRACTION = 0.6;
const HIGH_FACTOR = 2;
const SHARE_MARGIN = 0.05;
/** Shares are judged only over hours with at least this many records. */
const MIN_RECORDS_FOR_SHARE = 20;

const DATASET_CHECKS = ['silent', 'volume_low', 'volume_high', 'quarantine_share', 'new_code'] as const;
type DatasetCheck = (typeof DATASET_CHECKS)[number];

interface Hour {
  in: number;
  deadLetter: number;
  codes: Set<string>;
}

interface CheckOutcome {
  source: string;
  check: DatasetCheck;
  failing: boolean;
  /** What the hour had, and the range the weeks before set; or why there is no verdict. */
  detail: string;
}

export interface SourceVerdict {
  source: string;
  /** The hour checked, [start, start + 1 h). */
  hour: string;
  records: number;
  learning: boolean;
  checks: CheckOutcome[];
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
    if (!hour) bySource.set(start, (hour = { in: 0, deadLetter: 0, codes: new Set() }));
    hour.in += entry.in;
    hour.deadLetter += entry.dead_letter;
    for (const code of Object.keys(entry.errors)) hour.codes.add(code);
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
    const empty: Hour = { in: 0, deadLetter: 0, codes: new Set() };
    const hour = hours.get(start) ?? empty;
    const base = { source, hour: new Date(start).toISOString(), records: hour.in };
    // The same hour of the week, one to four weeks before; those the source did not exist for yet do not count.
    const first = this.firstSeen.get(source) ?? start;
    const weeks = [1, 2, 3, 4].map((w) => start - w * WEEK_MS).filter((t) => t >= Math.floor(first / HOUR_MS) * HOUR_MS);
    if (weeks.length === 0) return { ...base, learning: true, checks: [] };
    const past = weeks.map((t) => hours.get(t) ?? empty);
    const counts = past.map((h) => h.in);
    const low = Math.min(...counts);
    const high = Math.max(...counts);
    const range = `the same hour of the last ${weeks.length} week(s): ${low}..${high}`;
    const shares = past.filter((h) => h.in >= MIN_RECORDS_FOR_SHARE).map((h) => h.deadLetter / h.in);
    const share = hour.in > 0 ? hour.deadLetter / hour.in : 0;
    const pastCodes = new Set<string>();
    for (const t of [...hours.keys()]) if (t < start && t >= start - 4 * WEEK_MS) for (const c of hours.get(t)!.codes) pastCodes.add(c);
    const newCodes = [...hour.codes].filter((c) => !pastCodes.has(c)).sort();
    const outcome = (check: DatasetCheck, failing: boolean, detail: string): CheckOutcome => ({ source, check, failing, detail });
    return {
      ...base,
      learning: false,
      checks: [
        outcome('silent', weeks.length >= 2 && low > 0 && hour.in === 0, `${hour.in} records; ${range}`),
        outcome('volume_low', hour.in > 0 && hour.in < LOW_FRACTION * low, `${hour.in} records; ${range}`),
        outcome('volume_high', hour.in > HIGH_FACTOR * high && high > 0, `${hour.in} records; ${range}`),
        outcome(
          'quarantine_share',
          hour.in >= MIN_RECORDS_FOR_SHARE && shares.length > 0 && share > Math.max(...shares) + SHARE_MARGIN,
          `${(share * 100).toFixed(1)} % dead-lettered; at most ${shares.length ? (Math.max(...shares) * 100).toFixed(1) : '–'} % before`,
        ),
        outcome('new_code', newCodes.length > 0, newCodes.length ? `codes not seen in four weeks: ${newCodes.join(', ')}` : 'no new code'),
      ],
    };
  }
}

const datasetMetrics = perRegistry((registry: Registry) => ({
  failing: new Gauge({
    name: 'c360_dataset_check_failing',
    help: 'Whether a dataset check fails for the source over the last complete hour (1) or not (0): silent, volume_low, volume_high, quarantine_share, new_code',
    labelNames: ['source', 'check'],
    registers: [registry],
  }),
  records: new Gauge({
    name: 'c360_dataset_hour_records',
    help: 'Records the source sent in the last complete hour, as the ledger counts them',
    labelNames: ['source'],
    registers: [registry],
  }),
  learning: new Gauge({
    name: 'c360_dataset_learning',
    help: 'Whether the source has less than a week of history, so its checks give no verdict yet (1)',
    labelNames: ['source'],
    registers: [registry],
  }),
}));

/** The verdicts as gauges: a check that no longer fails goes back to 0. */
export function exportVerdicts(registry: Registry, verdicts: SourceVerdict[]): void {
  const m = datasetMetrics(registry);
  for (const v of verdicts) {
    m.records.set({ source: v.source }, v.records);
    m.learning.set({ source: v.source }, v.learning ? 1 : 0);
    for (const check of DATASET_CHECKS) m.failing.set({ source: v.source, check }, v.checks.find((c) => c.check === check)?.failing ? 1 : 0);
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
