/**
 * Segment's tracking API spec (track, identify, page, screen, group, alias) mapped to the web
 * source's behavioural event (avro/BehavioralEvent.avsc), so that apps already instrumented with a
 * Segment or RudderStack SDK (RudderStack speaks the same spec) send here by changing only the host.
 *
 * - `messageId` is the event id, which the topology dedups by: a batch the SDK sends again after a
 *   lost response is dropped as duplicates, whatever time the collector gives it (the web source
 *   leaves `occurred_at` out of the content a duplicate is told by).
 * - `occurred_at` is Segment's corrected timestamp: the call's `timestamp` moved by the device
 *   clock's skew, `receivedAt − sentAt` (a clock an hour fast still tells the right hour), or the
 *   time it arrived when the call has none. The skew is kept in the lineage origin
 *   (`clock_skew_ms`), so the device's own reading is `occurred_at − clock_skew_ms`.
 * - `identify` and `group` traits are what the person says about themselves, unverified: they go
 *   to `traits`, encrypted as a whole with the person's key, and `traits.email` to `email`. The CRM
 *   stays the system of record for profiles; identity resolution reads traits from raw.
 * - `properties` are kept, sealed as the contract says; a non-string value is kept as JSON.
 */
import { randomUUID } from 'node:crypto';
import { MAX_EPOCH_MS } from '../../schema/iso-time.js';
import { type Connection, campaignFrom, type Json, object, setOwn, strings, type TrackerMapped, text } from './tracker-event.js';

export const SEGMENT_CALLS = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type SegmentCall = (typeof SEGMENT_CALLS)[number];

const EVENT_TYPE: Record<SegmentCall, string> = {
  track: 'TRACK',
  identify: 'IDENTIFY',
  page: 'PAGE_VIEW',
  screen: 'SCREEN_VIEW',
  group: 'GROUP',
  alias: 'ALIAS',
};

/** Segment's context.campaign (the page's UTM parameters) as the contract's campaign, or null when the call names none. */
function campaignOf(context: Json): Json | null {
  const c = object(context.campaign);
  if (!c) return null;
  return campaignFrom((f) => text(c[f]));
}

/** Consent as a map category → granted, or why it cannot be taken as it is. */
function grants(entries: [string, unknown][], field: string): Record<string, boolean> | string {
  const out: Record<string, boolean> = {};
  for (const [category, granted] of entries) {
    if (typeof granted !== 'boolean') return `${field}.${category} must be true or false`;
    setOwn(out, category, granted);
  }
  return out;
}

/** Consent ids of a RudderStack list: strings, or objects naming their `consent`. */
function consentIds(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return undefined;
  const ids = v.map((x) => (typeof x === 'string' ? x : text(object(x)?.consent)));
  return ids.every((x): x is string => typeof x === 'string' && x !== '') ? ids : undefined;
}

/**
 * The consent categories the call carries, or why they cannot be taken as they are: Segment's
 * context.consent.categoryPreferences (category → granted), or RudderStack's
 * context.consentManagement (allowedConsentIds granted, deniedConsentIds denied).
 */
function consentOf(context: Json): Record<string, boolean> | null | string {
  const preferences = object(object(context.consent)?.categoryPreferences);
  if (preferences) return grants(Object.entries(preferences), 'context.consent.categoryPreferences');
  const managed = object(context.consentManagement);
  if (!managed) return null;
  const allowed = consentIds(managed.allowedConsentIds);
  const denied = consentIds(managed.deniedConsentIds);
  if (!allowed || !denied) return 'context.consentManagement: allowedConsentIds and deniedConsentIds must be arrays of consent ids';
  if (allowed.length + denied.length === 0) return null;
  return grants([...allowed.map((id): [string, boolean] => [id, true]), ...denied.map((id): [string, boolean] => [id, false])], 'context.consentManagement');
}

/** Why an id or time field of a call cannot be taken as it is, or undefined when it can: never a silent change of value. */
function fieldProblem(event: Json): string | undefined {
  const kind = (v: unknown) => (Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);
  const context = object(event.context) ?? {};
  const scalars: [string, unknown][] = [
    ...(['userId', 'anonymousId', 'previousId', 'groupId'] as const).map((id): [string, unknown] => [id, event[id]]),
    ...(['ip', 'locale', 'userAgent', 'sessionId'] as const).map((f): [string, unknown] => [`context.${f}`, context[f]]),
  ];
  for (const [field, v] of scalars)
    if (v !== undefined && v !== null && typeof v !== 'string' && typeof v !== 'number') return `${field} must be a string or a number, not ${kind(v)}`;
  for (const time of ['timestamp', 'originalTimestamp', 'sentAt'] as const) {
    const v = event[time];
    if (v !== undefined && v !== null && typeof v !== 'string') return `${time} must be an ISO 8601 string; a number could be seconds or milliseconds`;
  }
  return undefined;
}

/** Segment's device ids by platform: the advertising id is IDFA or GAID, the vendor id IDFV or the Android id. */
function deviceOf(context: Json, userAgent: string | null): Json | null {
  const device = object(context.device) ?? {};
  const os = object(context.os) ?? {};
  // A browser SDK says its user agent in the call; the request's own header is any client's (an app's HTTP library too).
  const agent = text(context.userAgent) ?? userAgent;
  const platform = (text(device.type) ?? text(os.name))?.toLowerCase() ?? (text(context.userAgent) ? 'web' : null);
  const ios = platform === 'ios' || platform === 'ipados';
  const android = platform === 'android';
  const advertising = text(device.advertisingId);
  const vendor = text(device.id);
  const [idType, id] = advertising
    ? [ios ? 'IDFA' : android ? 'GAID' : null, advertising]
    : vendor
      ? [ios ? 'IDFV' : android ? 'ANDROID_ID' : null, vendor]
      : [null, null];
  const out = {
    id_type: id && idType ? idType : null,
    // An id whose kind the platform does not say cannot be checked; it is kept in properties instead (mapped below).
    device_id: id && idType ? id : null,
    platform,
    os_version: text(os.version),
    app_version: text(object(context.app)?.version),
    user_agent: agent,
  };
  return Object.values(out).some((v) => v !== null) ? out : null;
}

function geoOf(context: Json): { geo: Json | null; kept: Record<string, string> } {
  const location = object(context.location);
  if (!location) return { geo: null, kept: {} };
  // Segment's country and region are names ("United States"); the contract's are ISO codes. A name is kept in properties, never guessed.
  const country = text(location.country);
  const iso = country && /^[A-Za-z]{2}$/.test(country) ? country.toUpperCase() : null;
  const kept: Record<string, string> = {};
  if (country && !iso) kept['context.location.country'] = country;
  const region = text(location.region);
  if (region) kept['context.location.region'] = region;
  const number = (v: unknown) => (typeof v === 'number' ? v : null);
  return {
    geo: { latitude: number(location.latitude), longitude: number(location.longitude), country: iso, region: null, city: text(location.city) },
    kept,
  };
}

/** The calls of a request: the body itself for /v1/<call>, its `batch` array for /v1/batch and /v1/import. */
export function segmentEvents(body: unknown, single: boolean): unknown[] | undefined {
  if (single) return object(body) ? [body] : undefined;
  const batch = object(body)?.batch;
  return Array.isArray(batch) ? batch : undefined;
}

/**
 * One Segment event as a behavioural event, or the reason it is not a Segment event at all (its
 * `type` missing or unknown). Values the contract refuses (a bad timestamp, an email) are mapped
 * as they are, for the topology to dead-letter with its typed error.
 */
export function fromSegment(
  event: Json,
  call: SegmentCall | undefined,
  receivedAt: number,
  body: unknown,
  connection: Connection,
): TrackerMapped | { problem: string } {
  // A call's own sentAt, or its batch's.
  const sentAt = event.sentAt ?? object(body)?.sentAt;
  const type = call ?? (text(event.type) as SegmentCall | null);
  if (!type || !SEGMENT_CALLS.includes(type)) return { problem: `type must be one of ${SEGMENT_CALLS.join(', ')}` };
  const problem = fieldProblem(event);
  if (problem) return { problem };
  const context = object(event.context) ?? {};
  const consent = consentOf(context);
  if (typeof consent === 'string') return { problem: consent };
  const page = object(context.page) ?? {};
  const properties = object(event.properties) ?? {};
  // RudderStack's identify carries the person's traits in context.traits; Segment's in traits.
  const traits = type === 'identify' ? strings(event.traits ?? context.traits) : type === 'group' ? strings(event.traits) : undefined;
  const { geo, kept } = geoOf(context);
  const device = deviceOf(context, connection.userAgent);
  const extra: Record<string, string> = { ...kept };
  const rawDevice = object(context.device);
  if (device && !device.device_id && (text(rawDevice?.advertisingId) ?? text(rawDevice?.id)))
    extra['context.device.id'] = (text(rawDevice?.advertisingId) ?? text(rawDevice?.id))!;
  if (type === 'group' && text(event.groupId)) extra.group_id = text(event.groupId)!;
  if (type === 'alias' && text(event.previousId)) extra.previous_id = text(event.previousId)!;
  const timestamp = event.timestamp ?? event.originalTimestamp;
  const sent = typeof sentAt === 'string' ? Date.parse(sentAt) : Number.NaN;
  const skew = Number.isFinite(sent) ? receivedAt - sent : null;
  const deviceTime = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
  // A timestamp that does not parse is kept as it came, for the topology to dead-letter with its typed error.
  // A corrected time a Date cannot hold (a timestamp at the edge of its range) is no correction: the timestamp stays as it came.
  const corrected = Number.isFinite(deviceTime) && skew !== null && Math.abs(deviceTime + skew) <= MAX_EPOCH_MS ? deviceTime + skew : undefined;
  const occurredAt =
    timestamp === undefined || timestamp === null
      ? new Date(receivedAt).toISOString()
      : corrected !== undefined
        ? new Date(corrected).toISOString()
        : timestamp;
  const value: Json = {
    // Segment generates an id when a client sends none; such an event cannot be recognised when sent again.
    event_id: text(event.messageId) ?? randomUUID(),
    event_type: EVENT_TYPE[type],
    event_name: type === 'track' ? text(event.event) : type === 'page' || type === 'screen' ? text(event.name) : null,
    occurred_at: occurredAt,
    customer_id: text(event.userId),
    anonymous_id: text(event.anonymousId),
    // RudderStack's session (its start in milliseconds); Segment's SDKs send none.
    session_id: text(context.sessionId),
    email: text(object(event.traits)?.email) ?? text(object(context.traits)?.email),
    page_url: text(properties.url) ?? text(page.url),
    referrer: text(properties.referrer) ?? text(page.referrer),
    device,
    geo,
    properties: { ...strings(properties), ...extra },
    traits: traits ?? null,
    // A server relaying its users' calls says their address in context.ip; a browser or app is the connection itself.
    ip: text(context.ip) ?? connection.ip,
    locale: text(context.locale),
    campaign: campaignOf(context),
    consent,
  };
  return {
    value,
    origin: { type, clock_skew_ms: skew, library: text(object(context.library)?.name) },
  };
}
