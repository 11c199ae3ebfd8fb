/**
 * The ledger: every transaction the topology commits also writes one entry to `<ns>.ledger`
 * with the counts of the batch it covers, so the totals are exactly-once like the records:
 * records in = raw + exact duplicates dropped + dead-letter + suppressed, per source, across crashes.
 */

export interface LedgerCounts {
  in: number;
  raw: number;
  duplicates: number;
  dead_letter: number;
  /** Records of people who asked to be forgotten, dropped at ingest (docs/privacy.md). Absent from entries written before it existed. */
  suppressed: number;
  near_duplicates: number;
}

/** A batch's (or an hour's) records of one event: how many, how many had each field null, how many carried each property. */
export interface EventProfile {
  records: number;
  nulls: Record<string, number>;
  properties: Record<string, number>;
}

export interface LedgerEntry extends LedgerCounts {
  source: string;
  topic: string;
  partition: number;
  first_offset: number;
  last_offset: number;
  errors: Record<string, number>;
  /** Per event, its records, nulls per field and properties (observability/record-profile.ts); absent from entries written before it existed. */
  events?: Record<string, EventProfile>;
  committed_at: string;
}

export function emptyCounts(): LedgerCounts {
  return { in: 0, raw: 0, duplicates: 0, dead_letter: 0, suppressed: 0, near_duplicates: 0 };
}

export function addCounts(into: LedgerCounts, c: LedgerCounts): void {
  into.in += c.in;
  into.raw += c.raw;
  into.duplicates += c.duplicates;
  into.dead_letter += c.dead_letter;
  into.suppressed += c.suppressed ?? 0;
  into.near_duplicates += c.near_duplicates;
}

export function balanced(c: LedgerCounts): boolean {
  return c.in === c.raw + c.duplicates + c.dead_letter + c.suppressed;
}

export interface LedgerTotals {
  bySource: Map<string, LedgerCounts & { errors: Record<string, number> }>;
  total: LedgerCounts;
}

export function totalsOf(entries: Iterable<LedgerEntry>): LedgerTotals {
  const bySource = new Map<string, LedgerCounts & { errors: Record<string, number> }>();
  const total = emptyCounts();
  for (const e of entries) {
    let s = bySource.get(e.source);
    if (!s) bySource.set(e.source, (s = { ...emptyCounts(), errors: {} }));
    addCounts(s, e);
    addCounts(total, e);
    for (const [code, n] of Object.entries(e.errors)) s.errors[code] = (s.errors[code] ?? 0) + n;
  }
  return { bySource, total };
}

export function formatLedger(totals: LedgerTotals): string {
  const rows = [['source', 'in', 'raw', 'duplicates', 'dead_letter', 'suppressed', 'near_dups', 'balanced']];
  for (const [source, c] of [...totals.bySource].sort()) {
    rows.push([source, c.in, c.raw, c.duplicates, c.dead_letter, c.suppressed, c.near_duplicates, balanced(c) ? 'yes' : 'NO'].map(String));
  }
  const t = totals.total;
  rows.push(['total', t.in, t.raw, t.duplicates, t.dead_letter, t.suppressed, t.near_duplicates, balanced(t) ? 'yes' : 'NO'].map(String));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}

/** A ledger entry as a message on the ledger topic, keyed by the first position it covers. */
export function ledgerMessage(entry: LedgerEntry): { key: string; value: string } {
  return { key: `${entry.topic}:${entry.partition}:${entry.first_offset}`, value: JSON.stringify(entry) };
}
