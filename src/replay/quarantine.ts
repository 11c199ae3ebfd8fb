/**
 * Replay: quarantined records go back to their source's ingest topic, as they arrived (key, value,
 * non-lineage headers), with lineage that keeps their ingest id and points at the dead-letter
 * record they were replayed from. The topology checks them again; a record that already landed
 * (replayed twice, say) is an exact duplicate there and is dropped and counted, never landed twice.
 */
import { type IHeaders, type Kafka, type Message, Partitioners } from 'kafkajs';
import { HEADER, lineageHeaders, SOURCE_KINDS, type SourceKind } from '../contracts/lineage.js';
import { topicNames } from '../contracts/topic-names.js';
import { sendInRequests } from '../kafka/send.js';
import { ownHeader } from '../privacy/envelope-keys.js';
import type { SealedOpener } from '../privacy/sealed.js';
import type { LayerFiles } from '../sinks/layer-files.js';
import { type QuarantinedRecord, type QuarantineFilter, readQuarantine } from './store.js';

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
  const names = topicNames(options.namespace);
  const result: ReplayResult = { replayed: 0, skipped: 0, forgotten: 0, bySource: {} };
  const producer = options.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  if (!options.dryRun) await producer.connect();
  try {
    let pending: { topic: string; messages: Message[] }[] = [];
    let size = 0;
    const flush = async () => {
      if (size > 0 && !options.dryRun) await sendInRequests(producer, pending);
      pending = [];
      size = 0;
    };
    for await (const r of readQuarantine(options.files, options.filter, options.opener)) {
      if (r.forgotten) {
        result.forgotten++;
        continue;
      }
      if (!r.originalValue) {
        result.skipped++;
        continue;
      }
      const topic = names.ingest(r.source);
      let entry = pending.find((p) => p.topic === topic);
      if (!entry) pending.push((entry = { topic, messages: [] }));
      entry.messages.push(replayMessage(r));
      size++;
      result.replayed++;
      result.bySource[r.source] = (result.bySource[r.source] ?? 0) + 1;
      if (size >= 500) await flush();
    }
    await flush();
  } finally {
    if (!options.dryRun) await producer.disconnect();
  }
  return result;
}
