/** What `c360 quarantine show` prints for a record: its errors, lineage and original value, personal data masked unless asked. */

import { FRAME_HEADER_BYTES, framedSchemaId } from '../contracts/framing.js';
import { maskPersonal } from '../observability/personal-data.js';
import { personalShape } from '../privacy/identifiers.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../schema/json-depth.js';
import type { WriterSchemas } from '../schema/registry.js';
import type { QuarantinedRecord } from './store.js';

/** The original value as data: JSON parsed, Confluent-framed Avro decoded with its writer schema, anything else described. */
async function originalValue(value: Buffer | null, schemas: WriterSchemas): Promise<unknown> {
  if (!value) return null;
  const id = framedSchemaId(value);
  if (id !== undefined) {
    await schemas.fetch([id]).catch(() => undefined);
    const type = schemas.get(id);
    if (type) {
      try {
        return { avro_schema_id: id, record: type.fromBuffer(value.subarray(FRAME_HEADER_BYTES)) };
      } catch {
        // truncated or not matching its schema: described below
      }
    }
    return { avro_schema_id: id, undecodable_bytes: value.length };
  }
  // Printing walks the value recursively: what nests too deep is described, never parsed.
  if (jsonTooDeep(value)) return { nested_deeper_than: MAX_JSON_DEPTH, bytes: value.length };
  try {
    return JSON.parse(value.toString('utf8'));
  } catch {
    return { unparseable_bytes: value.length };
  }
}

function maskedKey(key: string | null, unmask: boolean): string | null {
  return key !== null && !unmask && personalShape(key) ? String(maskPersonal(key, true)) : key;
}

export async function describeRecord(r: QuarantinedRecord, schemas: WriterSchemas, unmask: boolean): Promise<Record<string, unknown>> {
  const value = r.forgotten ? { forgotten: true } : await originalValue(r.originalValue, schemas);
  return {
    ingest_id: r.lineage.ingest_id,
    source: r.source,
    date: r.date,
    event: r.event,
    errors: r.errors,
    stage: r.stage,
    failed_at: new Date(r.failedAt).toISOString(),
    lineage: { ...r.lineage, received_at: new Date(r.lineage.received_at).toISOString() },
    origin: r.origin,
    dead_letter: r.deadLetter,
    file: r.file,
    // A key that is an email or a phone (sealed in the dead letter, opened here) is masked as a personal field is.
    key: maskedKey(r.originalKey?.toString('utf8') ?? null, unmask),
    // A file row that could not be mapped is keyed by the file's own column names, which no contract marks: all of it is masked.
    value: unmask ? value : maskPersonal(value, r.stage === 'extract'),
  };
}
