/**
 * Re-runs: the raw layer's records of some days sent again, decrypted, into the ingest topics of
 * another namespace, whose topology — the current checks — and sink land them in tables (or
 * folders) of their own. A data steward compares the two namespaces' ledgers and tables to see what
 * a changed rule does to last quarter. Each record keeps its key, ingest id, receipt time and source
 * kind; its origin names the namespace, day and file it was re-run from. Records of people
 * forgotten since are not sent, and the copy is registered with the origin's privacy log, so that
 * forgetting a person there forgets them in the copy too (privacy/erasure.ts).
 */
import type { IHeaders, Kafka, Message } from 'kafkajs';
import { HEADER, lineageHeaders, SOURCE_KINDS, type SourceKind } from '../contracts/lineage.js';
import type { PrivacyLog } from '../privacy/privacy-log.js';
import { type RawLayer, type RawRow, readRawLayer } from '../privacy/raw-reader.js';
import type { CompiledEntity } from '../schema/entity.js';
import { type IngestMessage, sendToIngest } from './send.js';

export interface RerunOptions {
  layer: RawLayer;
  kafka: Kafka;
  /** The namespace the rows are read from, and the one they are sent into. */
  from: string;
  into: string;
  sources: string[];
  /** Ingest days, inclusive (YYYY-MM-DD). */
  firstDay?: string;
  lastDay?: string;
  log: PrivacyLog;
  dryRun?: boolean;
}

export interface RerunResult {
  sent: number;
  bySource: Record<string, number>;
  /** Rows holding a value of a person forgotten since: not sent. */
  forgotten: number;
  /** Rows of an entity the topology no longer has: not sent. */
  unknownEntity: number;
}

type AvroSchema =
  | string
  | AvroSchema[]
  | { type: AvroSchema; logicalType?: string; fields?: Array<{ name: string; type: AvroSchema }>; items?: AvroSchema; values?: AvroSchema };

/** A value read from Parquet as the JSON the ingest path coerces back to the same Avro value. */
function plain(v: unknown, logical?: string): unknown {
  if (v instanceof Date) return logical === 'date' ? v.toISOString().slice(0, 10) : v.toISOString();
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return v;
}

function ingestJson(schema: AvroSchema, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (Array.isArray(schema)) {
    const branches = schema.filter((b) => b !== 'null');
    return branches.length === 1 ? ingestJson(branches[0]!, v) : plain(v);
  }
  if (typeof schema === 'string') return plain(v);
  if (schema.type === 'record' && schema.fields && typeof v === 'object') {
    const row = v as Record<string, unknown>;
    return Object.fromEntries(schema.fields.map((f) => [f.name, ingestJson(f.type, row[f.name])]));
  }
  if (schema.type === 'array' && schema.items && Array.isArray(v)) return v.map((x) => ingestJson(schema.items!, x));
  if (schema.type === 'map' && schema.values && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, ingestJson(schema.values!, x)]));
  }
  if (typeof schema.type === 'object') return ingestJson(schema.type, v);
  return plain(v, schema.logicalType);
}

function rerunMessage(row: RawRow, entity: CompiledEntity, from: string): Message {
  const r = row.record;
  let previousOrigin: unknown = r._origin;
  try {
    previousOrigin = JSON.parse(String(r._origin));
  } catch {
    // an origin that is not JSON is kept as text
  }
  const received = r._received_at instanceof Date ? r._received_at.getTime() : Number(r._received_at);
  const headers: IHeaders = lineageHeaders({
    ingestId: String(r._ingest_id),
    source: row.source,
    sourceKind: (SOURCE_KINDS as readonly string[]).includes(String(r._source_kind)) ? (r._source_kind as SourceKind) : 'batch',
    receivedAt: received,
    origin: JSON.stringify({ rerun_of: { namespace: from, date: row.date, file: row.file }, origin: previousOrigin }),
  });
  headers[HEADER.entity] = entity.fullName;
  return {
    key: typeof r._key === 'string' ? r._key : null,
    value: JSON.stringify(ingestJson(entity.schema as AvroSchema, r)),
    headers,
  };
}

export async function rerunRaw(o: RerunOptions): Promise<RerunResult> {
  const result: RerunResult = { sent: 0, bySource: {}, forgotten: 0, unknownEntity: 0 };
  // Registered before anything is sent: a copy that exists is always one a forget reaches.
  if (!o.dryRun) await o.log.copy(o.into);
  async function* rows(): AsyncGenerator<IngestMessage> {
    for await (const row of readRawLayer(o.layer, { source: o.sources, firstDay: o.firstDay, lastDay: o.lastDay })) {
      const entity = o.layer.entity(row.source, row.entity);
      if (row.forgotten) result.forgotten++;
      else if (!entity) result.unknownEntity++;
      else yield { source: row.source, message: rerunMessage(row, entity, o.from) };
    }
  }
  result.bySource = await sendToIngest(o.kafka, o.into, rows(), o);
  result.sent = Object.values(result.bySource).reduce((a, b) => a + b, 0);
  return result;
}
