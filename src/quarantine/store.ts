/**
 * The quarantine store: the dead-letter records the sinks landed (under
 * `quarantine/source=<source>/date=<YYYY-MM-DD>/`, or in the `quarantine` table), read back with
 * their errors, original bytes (fetched from the store when they were too large to keep inline)
 * and lineage, selected by source, date, error code or ingest id. Reads one file at a time.
 */
import { hash } from 'node:crypto';
import type { RecordErrorEntry } from '../contracts/errors.js';
import { ORIGINAL_KEY, originalHeaderLabel } from '../privacy/envelope-keys.js';
import { type SealedOpener, sealedFor } from '../privacy/sealed.js';
import type { LayerFiles } from '../sinks/layer-files.js';
import { layerRows } from '../sinks/parquet/read.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface QuarantinedRecord {
  /** Where it is stored, and where the dead-letter record was in Kafka. */
  file: string;
  source: string;
  date: string;
  deadLetter: { topic: string; partition: number; offset: number };
  errors: RecordErrorEntry[];
  stage: string;
  entity: string | null;
  /** The event it is, when it decoded (dead letters written before the field existed have none). */
  event: string | null;
  originalKey: Buffer | null;
  /** As it arrived: opened when it was sealed and an opener was given (null when its person was forgotten). */
  originalValue: Buffer | null;
  /** Its value was sealed for a person who has since been forgotten. */
  forgotten: boolean;
  /** The pseudonym of the person its value is sealed for (its `_subject` column, or the seal's own), when it is sealed. */
  subject: string | null;
  originalHeaders: Record<string, Buffer>;
  origin: { topic: string; partition: number; offset: number };
  lineage: { ingest_id: string; source: string; source_kind: string; received_at: number; origin: string };
  failedAt: number;
}

export interface QuarantineFilter {
  source?: string[];
  date?: string[];
  code?: string[];
  event?: string[];
  ingestId?: string[];
  /** Only the records of these people (pseudonyms), as an export wants. */
  subjects?: ReadonlySet<string>;
}

const toBuffer = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v) : null);
const toMillis = (v: unknown) => (v instanceof Date ? v.getTime() : Number(v));

/** Quarantined records, their sealed values opened by `opener` (docs/privacy.md) when one is given. */
export async function* readQuarantine(layer: LayerFiles, filter: QuarantineFilter = {}, opener?: SealedOpener): AsyncGenerator<QuarantinedRecord> {
  const { store } = layer;
  for await (const file of layer.files('quarantine', { source: filter.source, date: filter.date })) {
    const { source, date } = file;
    const rows = await layerRows(await file.read(), file.where, { utf8: false });
    await opener?.prepare(rows.map((r) => toBuffer(r.original_value)));
    for (const r of rows) {
      const errors = (r.errors as RecordErrorEntry[]) ?? [];
      const lineage = r.lineage as QuarantinedRecord['lineage'];
      if (filter.code?.length && !errors.some((e) => filter.code!.includes(e.code))) continue;
      if (filter.ingestId?.length && !filter.ingestId.includes(lineage.ingest_id)) continue;
      const event = (r.event as string | null | undefined) ?? null;
      if (filter.event?.length && !(event !== null && filter.event.includes(event))) continue;
      const original = toBuffer(r.original_value) ?? (await outOfLine(store, r.original_value_ref));
      const subject = (r._subject as string | null | undefined) ?? sealedFor(original) ?? null;
      if (filter.subjects && !(subject && filter.subjects.has(subject))) continue;
      // The key and the producer's own headers are sealed with the value: opened with it, or gone with it.
      const open = async (bytes: Buffer | null, label?: string) => (opener ? (await opener.open(bytes, label)).value : bytes);
      const opened = opener ? await opener.open(original) : { value: original, forgotten: false };
      const headers: Record<string, Buffer> = {};
      for (const [k, v] of Object.entries((r.original_headers as Record<string, Uint8Array>) ?? {})) {
        const header = await open(Buffer.from(v), originalHeaderLabel(k));
        if (header) headers[k] = header;
      }
      yield {
        file: file.where,
        source,
        date,
        deadLetter: { topic: String(r._topic), partition: Number(r._partition), offset: Number(r._offset) },
        errors,
        stage: String(r.stage),
        entity: (r.entity as string | null) ?? null,
        event,
        originalKey: await open(toBuffer(r.original_key), ORIGINAL_KEY),
        originalValue: opened.value,
        forgotten: opened.forgotten,
        subject,
        originalHeaders: headers,
        origin: { topic: String(r.origin_topic), partition: Number(r.origin_partition), offset: Number(r.origin_offset) },
        lineage: { ...lineage, received_at: toMillis(lineage.received_at) },
        failedAt: toMillis(r.failed_at),
      };
    }
  }
}

/** An original value a dead letter keeps out of line (docs/contracts.md), read back and checked against its sha256. */
async function outOfLine(store: ObjectStore, ref: unknown): Promise<Buffer | null> {
  if (!ref || typeof ref !== 'object') return null;
  const { key, sha256 } = ref as { key: string; sha256: string };
  const bytes = await store.read(key);
  if (hash('sha256', bytes, 'hex') !== sha256) throw new Error(`the out-of-line original ${key} does not match its sha256`);
  return bytes;
}

export interface QuarantineCount {
  source: string;
  date: string;
  code: string;
  records: number;
}

export interface QuarantineCounts {
  /** By source, date and error code; a record with two errors counts under both codes. */
  byCode: QuarantineCount[];
  /** Records by ingest date, each once: the quarantine over time. */
  byDay: Array<{ date: string; records: number }>;
}

export async function countQuarantine(layer: LayerFiles, filter: QuarantineFilter = {}): Promise<QuarantineCounts> {
  const counts = new Map<string, QuarantineCount>();
  const days = new Map<string, number>();
  for await (const r of readQuarantine(layer, filter)) {
    days.set(r.date, (days.get(r.date) ?? 0) + 1);
    for (const code of new Set(r.errors.map((e) => e.code))) {
      const k = `${r.source}\u0000${r.date}\u0000${code}`;
      const c = counts.get(k) ?? { source: r.source, date: r.date, code, records: 0 };
      c.records++;
      counts.set(k, c);
    }
  }
  return {
    byCode: [...counts.values()].sort((a, b) => a.source.localeCompare(b.source) || a.date.localeCompare(b.date) || a.code.localeCompare(b.code)),
    byDay: [...days].sort(([a], [b]) => a.localeCompare(b)).map(([date, records]) => ({ date, records })),
  };
}
