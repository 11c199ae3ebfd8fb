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
  /** The blocking keys that found the pair (email, phone, device_id, name_postal, name_birth). */
  keys: string[];
  /** Name similarity (Jaro–Winkler of the full names), kept for consumers of the first schema. */
  score: number | null;
  /** Fellegi–Sunter match probability (null on ID_COLLISION events). */
  probability?: number | null;
  /** Match weight in bits: the log2 odds of one person. */
  match_weight?: number | null;
  /** Each compared field's level (exact, jaro_winkler_0.92, ...), where both records had the field. */
  levels?: Record<string, string> | null;
  detected_at: number;
}
