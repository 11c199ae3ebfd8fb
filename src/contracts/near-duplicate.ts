/** The near-duplicate record (avro/NearDuplicate.avsc): two records that may be one person or one event, for identity resolution. */

/** Where a record is: its ingest id, source, natural id and input position. */
export interface RecordRef {
  ingest_id: string;
  source: string;
  natural_id: string;
  topic: string;
  partition: number;
  offset: number;
}

export interface NearDuplicateEvent {
  kind: 'NEAR_DUPLICATE' | 'ID_COLLISION';
  source: string;
  entity: string;
  record: RecordRef;
  matched: RecordRef;
  keys: string[];
  score: number | null;
  detected_at: number;
}
