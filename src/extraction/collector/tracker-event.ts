/**
 * What the tracker mappings (segment.ts, snowplow.ts) share: reading loosely typed JSON without
 * changing a value, and the shape of a mapped event.
 */
export type Json = Record<string, unknown>;

export const object = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);

/** A non-empty string as it is, a number as its decimal text, anything else null. */
export const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);

/** A map of strings: strings as they are, anything else as its JSON. Every key is kept as an own key, `__proto__` too. */
export function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(object(v) ?? {})) {
    if (x === undefined) continue;
    Object.defineProperty(out, k, { value: typeof x === 'string' ? x : JSON.stringify(x), enumerable: true, writable: true, configurable: true });
  }
  return out;
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
