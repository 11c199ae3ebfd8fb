/**
 * Replay: quarantined records go back to their source's ingest topic, as they arrived (key, value,
 * non-lineage headers), with lineage that keeps their ingest id and points at the dead-letter
 * record they were replayed from. The topology checks them again; a record that already landed
 * (replayed twice, say) is an exact duplicate there and is dropped and counted, never landed twice.
 */
import type { IHeaders, Kafka, Message } from 'kafkajs';
import { HEADER, lineageHeaders, SOURCE_KINDS, type SourceKind } from '../contracts/lineage.js';
import { ownHeader } from '../privacy/envelope-keys.js';
import type { SealedOpener } from '../privacy/sealed.js';
import { type QuarantinedRecord, type QuarantineFilter, readQuarantine } from '../quarantine/store.js';
import type { LayerFiles } from '../sinks/layer-files.js';
import { type IngestMessage, sendToIngest } from './send.js';

export interface ReplayResult {
  replayed: number;
  /** Records with no value (nothing to check again), left in quarantine. */
  skipped: number;
  /** Records of people forgotten since: their values cannot be read, and are not replayed. */
  forgotten: number;
  bySource: Record<string, number>;
}

function replayMessage(r: QuarantinedRecord): Message {
  const headers: IHeaders = {};
  for (const [k, v] of Object.entries(r.originalHeaders)) if (!ownHeader(k)) headers[k] = v;
  let previousOrigin: unknown = r.lineage.origin;
  try {
    previousOrigin = JSON.parse(r.lineage.origin);
  } catch {
    // an origin that is not JSON is kept as text
  }
  Object.assign(
    headers,
    lineageHeaders({
      ingestId: r.lineage.ingest_id,
      source: r.source,
      sourceKind: (SOURCE_KINDS as readonly string[]).includes(r.lineage.source_kind) ? (r.lineage.source_kind as SourceKind) : 'stream',
      receivedAt: r.lineage.received_at,
      origin: JSON.stringify({ replay_of: { ...r.deadLetter, file: r.file, errors: r.errors.map((e) => e.code) }, origin: previousOrigin }),
    }),
  );
  headers[HEADER.source] = r.source;
  return { key: r.originalKey, value: r.originalValue, headers };
}

export async function replayQuarantine(options: {
  files: LayerFiles;
  kafka: Kafka;
  namespace: string;
  filter: QuarantineFilter;
  dryRun?: boolean;
  /** Opens values the topology sealed (docs/privacy.md). */
  opener?: SealedOpener;
}): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, skipped: 0, forgotten: 0, bySource: {} };
  async function* replayable(): AsyncGenerator<IngestMessage> {
    for await (const r of readQuarantine(options.files, options.filter, options.opener)) {
      if (r.forgotten) result.forgotten++;
      else if (!r.originalValue) result.skipped++;
      else yield { source: r.source, message: replayMessage(r) };
    }
  }
  result.bySource = await sendToIngest(options.kafka, options.namespace, replayable(), options);
  result.replayed = Object.values(result.bySource).reduce((a, b) => a + b, 0);
  return result;
}
