/**
 * What the tracker mappings (segment.ts, snowplow.ts) share: reading loosely typed JSON without
 * changing a value, and the shape of a mapped event.
 */
export type Json = Record<string, unknown>;

export const object = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);

/** A non-empty string as it is, a number as its decimal text, anything else null. */
export const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);

/** Sets `key` as an own property, `__proto__` too: an assignment would set the object's prototype instead. */
export function setOwn<T>(target: Record<string, T>, key: string, value: NoInfer<T>): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A map of strings: strings as they are, anything else as its JSON. Every key is kept as an own key, `__proto__` too. */
export function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(object(v) ?? {})) if (x !== undefined) setOwn(out, k, typeof x === 'string' ? x : JSON.stringify(x));
  return out;
}

const CAMPAIGN_FIELDS = ['name', 'source', 'medium', 'term', 'content'] as const;

/** The contract's campaign, each field as `read` finds it (a UTM parameter), or null when it names none. */
export function campaignFrom(read: (field: (typeof CAMPAIGN_FIELDS)[number]) => string | null): Json | null {
  const campaign = Object.fromEntries(CAMPAIGN_FIELDS.map((f) => [f, read(f)]));
  return Object.values(campaign).some((v) => v !== null) ? campaign : null;
}

/** A tracker's event mapped: the behavioural event, and what its lineage origin adds. */
export interface TrackerMapped {
  /** The behavioural event, in the JSON the web source's contract takes. */
  value: Json;
  /** The call or event kind, the device clock's skew, the SDK, and for Snowplow the app id. */
  origin: { type: string; clock_skew_ms: number | null; library: string | null; app_id?: string | null };
}

/** What the connection says about the client, for events that do not say it themselves. */
export interface Connection {
  /** The connection's address, or X-Forwarded-For's client when a trusted proxy relays it. */
  ip: string;
  userAgent: string | null;
  /** The client asked that its IP not be stored (Snowplow's SP-Anonymous header). */
  anonymous: boolean;
}
