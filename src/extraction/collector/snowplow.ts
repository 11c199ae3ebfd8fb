/**
 * Snowplow's tracker protocol (tp2: `POST /com.snowplowanalytics.snowplow/tp2` with a
 * `payload_data` envelope, and the `GET /i` pixel) mapped to the web source's behavioural event
 * (avro/BehavioralEvent.avsc), so that pages running Snowplow's browser tracker send here by
 * pointing its collector endpoint at this host.
 *
 * - `e` says what happened: `pv` a page view, `se` a structured event (its action is the name),
 *   `ue` a self-describing event (its Iglu schema URI is the name, its data the properties),
 *   `pp` a page ping, `tr`/`ti` a transaction and its items. Any other value is refused.
 * - `eid` is the event id the topology dedups by, so a batch the tracker sends again is dropped.
 * - `occurred_at` is Snowplow's derived timestamp: `ttm` when the tracker knows the true time, else
 *   `dtm` moved by the device clock's skew (`receivedAt − stm`), else the time it arrived.
 * - Self-describing JSON (`ue_pr`/`ue_px`, and the entities of `co`/`cx`) is kept as JSON: data
 *   values that are not strings are their JSON text, the entities one JSON array in
 *   `properties["@contexts"]` (a name no schema's property takes), each with its schema, so a reader types them by their Iglu schemas.
 * - A `consent_preferences` event (Snowplow's consent plugin) fills `consent`: its scopes granted
 *   for allow_all, allow_selected and implicit_consent, denied for deny_all, withdrawn and expired.
 * - The campaign is read from the page URL's utm_ parameters, as Snowplow's enrichment does.
 */

import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../../schema/json-depth.js';
import { type Connection, campaignFrom, type Json, object, setOwn, strings, type TrackerMapped, text } from './tracker-event.js';

export const SNOWPLOW_POST_PATH = '/com.snowplowanalytics.snowplow/tp2';
export const SNOWPLOW_GET_PATH = '/i';
const PAYLOAD_DATA = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-';
const UNSTRUCT_EVENT = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-';
const CONTEXTS = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-';
const CONSENT_PREFERENCES = 'iglu:com.snowplowanalytics.snowplow/consent_preferences/jsonschema/1-';

const EVENTS: Record<string, { type: string; name?: string }> = {
  pv: { type: 'PAGE_VIEW' },
  pp: { type: 'TRACK', name: 'page_ping' },
  se: { type: 'TRACK' },
  ue: { type: 'TRACK' },
  tr: { type: 'TRACK', name: 'transaction' },
  ti: { type: 'TRACK', name: 'transaction_item' },
};

const GRANTED = new Set(['allow_all', 'allow_selected', 'implicit_consent']);
const DENIED = new Set(['deny_all', 'withdrawn', 'expired']);

/** The events of a tp2 POST body: the `data` array of its payload_data envelope. */
export function snowplowEvents(body: unknown): unknown[] | undefined {
  const envelope = object(body);
  if (!envelope || typeof envelope.schema !== 'string' || !envelope.schema.startsWith(PAYLOAD_DATA)) return undefined;
  return Array.isArray(envelope.data) ? envelope.data : undefined;
}

/**
 * The parameters of a pixel request's query, or why they cannot be read as sent: each named once,
 * percent-encoded UTF-8 (a byte that is not UTF-8 is refused, never kept as its escape or replaced).
 */
export function pixelParams(url: string): Json | string {
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  const params: Json = {};
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replaceAll('+', ' '));
      value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1).replaceAll('+', ' '));
    } catch {
      return 'the query is not percent-encoded UTF-8';
    }
    if (Object.hasOwn(params, key)) return `the query names ${key} more than once`;
    setOwn(params, key, value);
  }
  return params;
}

/** A self-describing JSON (`{schema: "iglu:…", data}`) from its JSON text or its base64url, or why it is not one. */
function selfDescribing(plain: string | null, encoded: string | null, field: string): { schema: string; data: unknown } | null | string {
  let raw: Buffer;
  if (plain !== null) raw = Buffer.from(plain, 'utf8');
  else if (encoded !== null) {
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(encoded)) return `${field} must be base64url`;
    raw = Buffer.from(encoded, 'base64url');
    if (!isUtf8(raw)) return `${field} must decode to UTF-8 JSON`;
  } else return null;
  if (jsonTooDeep(raw)) return `${field} nests deeper than ${MAX_JSON_DEPTH} levels`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return `${field} is not JSON`;
  }
  const sd = object(parsed);
  if (!sd || typeof sd.schema !== 'string' || !sd.schema.startsWith('iglu:') || !('data' in sd))
    return `${field} must be a self-describing JSON: {"schema": "iglu:…", "data": …}`;
  return { schema: sd.schema, data: sd.data };
}

/** The inner event of an unstruct_event envelope, or why it is not one. */
function unstructEvent(params: Json): { schema: string; data: Json } | null | string {
  const field = params.ue_pr !== undefined ? 'ue_pr' : 'ue_px';
  const outer = selfDescribing(text(params.ue_pr), text(params.ue_px), field);
  if (outer === null || typeof outer === 'string') return outer;
  const inner = object(outer.data);
  if (!outer.schema.startsWith(UNSTRUCT_EVENT) || !inner || typeof inner.schema !== 'string' || !inner.schema.startsWith('iglu:'))
    return `${field} must be an unstruct_event holding {"schema": "iglu:…", "data": {…}}`;
  const data = object(inner.data);
  if (!data) return `${field}: the event's data must be a JSON object`;
  return { schema: inner.schema, data };
}

/** The entities of co/cx as a JSON array, or why they are not a contexts envelope. */
function contextsOf(params: Json): unknown[] | null | string {
  const field = params.co !== undefined ? 'co' : 'cx';
  const sd = selfDescribing(text(params.co), text(params.cx), field);
  if (sd === null || typeof sd === 'string') return sd;
  if (!sd.schema.startsWith(CONTEXTS) || !Array.isArray(sd.data)) return `${field} must be a contexts envelope holding an array of entities`;
  return sd.data;
}

/** Milliseconds since the epoch, as the tracker sends them (decimal digits), or NaN. */
const millis = (v: unknown): number => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : Number.NaN);

function campaignOf(url: string | null): Json | null {
  if (!url) return null;
  let query: URLSearchParams;
  try {
    query = new URL(url).searchParams;
  } catch {
    return null;
  }
  return campaignFrom((f) => query.get(f === 'name' ? 'utm_campaign' : `utm_${f}`));
}

function consentOf(event: { schema: string; data: Json } | null): Record<string, boolean> | null | string {
  if (!event?.schema.startsWith(CONSENT_PREFERENCES)) return null;
  const kind = text(event.data.eventType);
  if (!kind || (!GRANTED.has(kind) && !DENIED.has(kind))) return null;
  const scopes = event.data.consentScopes;
  if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string')) return 'consent_preferences: consentScopes must be an array of strings';
  const out: Record<string, boolean> = {};
  for (const scope of scopes as string[]) setOwn(out, scope, GRANTED.has(kind));
  return out;
}

/**
 * One tracker-protocol event as a behavioural event, or why it cannot be taken: every parameter is
 * a string (numbers are taken as their text), `e` one of the kinds above, times in milliseconds.
 */
export function fromSnowplow(params: Json, receivedAt: number, connection: Connection): TrackerMapped | { problem: string } {
  for (const [k, v] of Object.entries(params))
    if (typeof v !== 'string' && typeof v !== 'number') return { problem: `${k} must be a string, as the tracker protocol sends every parameter` };
  const e = text(params.e);
  const kind = e ? EVENTS[e] : undefined;
  if (!e || !kind) return { problem: `e must be one of ${Object.keys(EVENTS).join(', ')}` };
  const time: Partial<Record<'dtm' | 'stm' | 'ttm', number>> = {};
  for (const t of ['dtm', 'stm', 'ttm'] as const) {
    if (params[t] === undefined) continue;
    time[t] = millis(String(params[t]));
    if (Number.isNaN(time[t])) return { problem: `${t} must be milliseconds since the epoch` };
  }
  const ue = e === 'ue' ? unstructEvent(params) : null;
  if (typeof ue === 'string') return { problem: ue };
  if (e === 'ue' && ue === null) return { problem: 'a ue event needs ue_pr or ue_px' };
  const contexts = contextsOf(params);
  if (typeof contexts === 'string') return { problem: contexts };
  const consent = consentOf(ue);
  if (typeof consent === 'string') return { problem: consent };

  const skew = time.stm !== undefined ? receivedAt - time.stm : null;
  const occurredAt = time.ttm ?? (time.dtm !== undefined ? time.dtm + (skew ?? 0) : receivedAt);

  const url = text(params.url);
  const properties: Record<string, string> =
    e === 'se'
      ? strings({ category: params.se_ca, action: params.se_ac, label: params.se_la, property: params.se_pr, value: params.se_va })
      : e === 'pp'
        ? strings({ min_x: params.pp_mix, max_x: params.pp_max, min_y: params.pp_miy, max_y: params.pp_may })
        : ue
          ? strings(ue.data)
          : e === 'tr' || e === 'ti'
            ? strings(Object.fromEntries(Object.entries(params).filter(([k]) => k.startsWith(`${e}_`))))
            : {};
  if (contexts) properties['@contexts'] = JSON.stringify(contexts);
  const userAgent = text(params.ua) ?? connection.userAgent;
  const platform = text(params.p);
  const device = { id_type: null, device_id: null, platform, os_version: null, app_version: null, user_agent: userAgent };
  const value: Json = {
    event_id: text(params.eid) ?? randomUUID(),
    event_type: kind.type,
    event_name: kind.name ?? (e === 'se' ? text(params.se_ac) : e === 'pv' ? text(params.page) : (ue?.schema ?? null)),
    occurred_at: new Date(occurredAt).toISOString(),
    customer_id: text(params.uid),
    anonymous_id: text(params.duid),
    session_id: text(params.sid),
    email: null,
    page_url: url,
    referrer: text(params.refr),
    device: platform || userAgent ? device : null,
    geo: null,
    properties,
    traits: null,
    ip: connection.anonymous ? null : (text(params.ip) ?? connection.ip),
    locale: text(params.lang),
    campaign: campaignOf(url),
    consent,
  };
  return { value, origin: { type: e, clock_skew_ms: skew, library: text(params.tv), app_id: text(params.aid) } };
}
