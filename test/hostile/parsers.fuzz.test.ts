// Property-based fuzzing (fast-check) of what parses input: the decode stage (random bytes, random
// JSON, random Avro of every entity schema), JSON coercion, CSV row mapping and the collector's
// body handling, and Parquet decimals read back. 10,000 generated inputs per target (2,000 files for
// decimals); no service is needed. Each property is the contract: never a throw or a 500, every
// refusal a typed code, and what is accepted is unchanged.
import fc from 'fast-check';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { RECORD_ERROR_CODES } from '../../src/contracts/errors.js';
import { frame } from '../../src/contracts/framing.js';
import { Collector } from '../../src/extraction/collector/server.js';
import { parseCollectorSettings } from '../../src/extraction/collector/settings.js';
import { compileMapping, loadMappingFile } from '../../src/extraction/mapping.js';
import { createKafka } from '../../src/kafka/client.js';
import { createLogger } from '../../src/observability/logger.js';
import { formatUnscaled } from '../../src/schema/decimal.js';
import { compilePlan } from '../../src/schema/tracking-plan.js';
import { layerRows } from '../../src/sinks/parquet/read.js';
import { decodeStage } from '../../src/stages/decode.js';
import type { Envelope } from '../../src/stages/envelope.js';
import { crmProfile, transaction, webEvent } from '../fixtures/records.js';
import { envelopeOf, offlineContext } from '../support/stages.js';

const RUNS = 10_000;
const codes = new Set(Object.keys(RECORD_ERROR_CODES));
const ctx = offlineContext();
const entities = [...ctx.entities.values()];
// Every entity's schema under a known id, so framed input never waits on a registry.
const idOf = new Map(entities.map((e, i) => [e.id, 100 + i]));
for (const e of entities) ctx.writerSchemas.remember(idOf.get(e.id)!, e.schema);
const decode = decodeStage.create(ctx);
const control = { heartbeat: async () => undefined, isRunning: () => true };
const primary = (source: string) => ctx.entitiesOfSource.get(source)![0]!;

async function decoded(e: Envelope): Promise<Envelope> {
  await decode.process([e], control);
  return e;
}

/** Either decoded, or dead-lettered with typed codes only. */
function typedOutcome(e: Envelope): void {
  if (e.outcome === 'pending') return void expect(e.value).toBeDefined();
  expect(e.outcome).toBe('dead-letter');
  expect(e.errors.length).toBeGreaterThan(0);
  for (const x of e.errors) expect(codes.has(x.code), x.code).toBe(true);
}

describe('fuzzing the decode stage', () => {
  it('random bytes, framed or not, decode or are dead-lettered with a typed code', async () => {
    const knownIds = [...idOf.values()];
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 512 }),
        fc.nat(knownIds.length - 1),
        fc.constantFrom(...entities.map((e) => e.id)).map((id) => ctx.entities.get(id)!),
        async (bytes, i, entity) => {
          const buf = Buffer.from(bytes);
          // Framed bytes name a schema the worker knows: the body is what is random.
          if (buf.length >= 5 && buf[0] === 0) buf.writeInt32BE(knownIds[i]!, 1);
          typedOutcome(await decoded(envelopeOf(entity, buf)));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('random JSON decodes or is dead-lettered with a typed code', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.json({ depthSize: 'medium' }),
        fc.constantFrom(...entities.map((e) => e.id)).map((id) => ctx.entities.get(id)!),
        async (text, entity) => {
          typedOutcome(await decoded(envelopeOf(entity, text)));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("random Avro records of every entity's schema decode to exactly what was written, unless refused with a typed code", async () => {
    await fc.assert(
      // avsc draws the random value: fast-check picks the entity and counts the runs.
      fc.asyncProperty(
        fc.constantFrom(...entities.map((e) => e.id)).map((id) => ctx.entities.get(id)!),
        async (entity) => {
          const value = entity.type.random();
          const body = entity.type.toBuffer(value);
          const e = await decoded(envelopeOf(entity, frame(idOf.get(entity.id)!, body)));
          typedOutcome(e);
          // Nothing changes on the way in: what decodes encodes back to the same bytes.
          if (e.outcome === 'pending') expect(entity.type.toBuffer(e.value).equals(body)).toBe(true);
          else expect(e.errors.map((x) => x.code)).toEqual(['schema.missing_required']);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('fuzzing tracking plans', () => {
  const plan = compilePlan('fuzz.json', {
    mode: 'quarantine',
    eventField: 'event_name',
    propertiesField: 'properties',
    allowUnplanned: false,
    events: {
      Typed: {
        required: ['n'],
        properties: {
          n: { type: 'number', maximum: 10 },
          b: { type: 'boolean' },
          o: { type: 'object' },
          a: { type: 'array', maxItems: 2 },
          s: { type: 'string', format: 'email' },
        },
        additionalProperties: false,
      },
      Open: {},
    },
  });
  it('any event name and any property text get typed plan violations only, never a throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom('Typed', 'Open', null), fc.string()),
        fc.dictionary(fc.oneof(fc.constantFrom('n', 'b', 'o', 'a', 's'), fc.string()), fc.oneof(fc.string(), fc.json())),
        (event_name, properties) => {
          for (const v of plan.check({ event_name, properties }).violations) {
            expect(codes.has(v.code), v.code).toBe(true);
            expect(v.code.startsWith('plan.'), v.code).toBe(true);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('fuzzing JSON coercion', () => {
  const samples = { crm: crmProfile, web: webEvent, commerce: transaction } as const;
  it('a record with any field replaced by random JSON is coerced to a value its Avro type holds, or refused with typed codes', () => {
    fc.assert(
      fc.property(fc.constantFrom('crm', 'web', 'commerce' as const), fc.jsonValue(), fc.nat(), (source, replacement, pick) => {
        const entity = primary(source);
        const record = structuredClone(samples[source]) as Record<string, unknown>;
        const fields = Object.keys(record);
        record[fields[pick % fields.length]!] = replacement;
        const { value, errors } = entity.coerceJson(record);
        for (const x of errors) expect(codes.has(x.code), x.code).toBe(true);
        // Accepted means encodable: a value the type cannot hold would be a poison pill further on.
        if (errors.length === 0) expect(entity.type.isValid(value)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('random JSON values at the top level are refused with typed codes, never thrown', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.constantFrom(...entities.map((e) => e.id)).map((id) => ctx.entities.get(id)!),
        (input, entity) => {
          const { errors, value } = entity.coerceJson(input);
          for (const x of errors) expect(codes.has(x.code), x.code).toBe(true);
          if (errors.length === 0) expect(entity.type.isValid(value)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('fuzzing CSV row mapping', () => {
  const entity = primary('commerce');
  const mapper = compileMapping(entity.schema, loadMappingFile(undefined));
  const columns = [
    'transaction_id',
    'customer_id',
    'email',
    'channel',
    'occurred_at',
    'currency',
    'total_amount',
    'line_items',
    'status',
    'unknown_column',
    '__proto__',
  ];
  it('random cells map to a JSON record or a typed code, never a throw', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...columns), fc.oneof(fc.string(), fc.json(), fc.constant(''))), (cells) => {
        const row: Record<string, unknown> = Object.create(null);
        Object.assign(row, cells);
        const mapped = mapper.map(row);
        if (mapped.ok) expect(typeof JSON.stringify(mapped.value)).toBe('string');
        else expect(codes.has(mapped.error.code), mapped.error.code).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('fuzzing the collector body', () => {
  const KEY = 'fuzz-key-0123456789abcdef';
  const WRITE_KEY = 'fuzz-segment-write-key-0123';
  const APP = 'fuzz-app';
  const config = loadConfig({ KAFKA_BROKERS: '127.0.0.1:1' });
  // Kafka is never reached: the producer is not connected, so an accepted body is answered 503.
  const collector = new Collector({
    kafka: createKafka(config, createLogger('silent')),
    namespace: 'fuzz',
    entities: new Map([['web', primary('web')]]),
    settings: parseCollectorSettings(
      {
        apiKeys: { [KEY]: 'web' },
        segmentWriteKeys: { [WRITE_KEY]: 'web' },
        snowplowAppIds: { [APP]: 'web' },
        bodyLimitBytes: 64 * 1024,
        maxEventsPerRequest: 50,
      },
      ['web'],
    ),
    maxRecordBytes: 16 * 1024,
    metrics: new Registry(),
    logger: createLogger('silent'),
  });
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
    fc.json({ depthSize: 'medium' }).map((s) => Buffer.from(s)),
    fc
      .array(fc.record({ event_id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), event_type: fc.string() }), { maxLength: 60 })
      .map((a) => Buffer.from(JSON.stringify(a))),
    fc.nat(3000).map((n) => Buffer.from(`${'['.repeat(n)}${']'.repeat(n)}`)),
    // Segment calls and batches: any type, ids, timestamps, contexts.
    fc
      .array(
        fc.record({
          type: fc.oneof(fc.constantFrom('track', 'identify', 'page', 'screen', 'group', 'alias'), fc.string(), fc.integer()),
          messageId: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
          userId: fc.oneof(fc.string(), fc.constant(null)),
          timestamp: fc.oneof(
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            fc.string(),
            fc.integer(),
          ),
          context: fc.jsonValue(),
          traits: fc.jsonValue(),
          properties: fc.jsonValue(),
        }),
        { maxLength: 60 },
      )
      .map((batch) => Buffer.from(JSON.stringify({ batch, sentAt: new Date().toISOString() }))),
  );
  it('answers every body with a refusal, an acceptance or a retry, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('application/json', 'text/plain', 'application/octet-stream'), async (payload, type) => {
        const r = await collector.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': type, 'x-api-key': KEY }, payload });
        expect([200, 400, 413, 415, 503]).toContain(r.statusCode);
      }),
      { numRuns: RUNS },
    );
  });
  it('answers every Segment call or batch with a refusal, an acceptance or a retry, never a 500', async () => {
    const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('/v1/batch', '/v1/track', '/v1/identify', `/beacon/v1/batch?writeKey=${WRITE_KEY}`), async (payload, url) => {
        const r = await collector.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', authorization: auth }, payload });
        expect([200, 400, 413, 503]).toContain(r.statusCode);
      }),
      { numRuns: RUNS },
    );
  });

  // Snowplow tracker-protocol events: any kind, times, self-describing JSON plain or base64url, and junk.
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const selfDescribing = fc.oneof(
    fc.jsonValue().map((data) => ({
      schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
      data: { schema: 'iglu:com.acme/x/jsonschema/1-0-0', data },
    })),
    fc.jsonValue(),
  );
  const snowplowEvent = fc.record(
    {
      e: fc.oneof(fc.constantFrom('pv', 'pp', 'se', 'ue', 'tr', 'ti'), fc.string()),
      aid: fc.oneof(fc.constant(APP), fc.string()),
      eid: fc.string(),
      dtm: fc.oneof(fc.nat().map(String), fc.string(), fc.integer()),
      stm: fc.oneof(fc.nat().map(String), fc.string()),
      ttm: fc.string(),
      ue_pr: selfDescribing.map((v) => JSON.stringify(v)),
      ue_px: fc.oneof(selfDescribing.map(b64), fc.string()),
      cx: fc.oneof(fc.jsonValue().map(b64), fc.string()),
      url: fc.oneof(fc.webUrl(), fc.string()),
      uid: fc.oneof(fc.string(), fc.jsonValue()),
    },
    { requiredKeys: ['e', 'aid'] },
  );
  it('answers every Snowplow POST and pixel with a refusal, an acceptance or a retry, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(snowplowEvent, { maxLength: 20 }), fc.boolean(), async (events, pixel) => {
        const schema = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4';
        const r = pixel
          ? await collector.app.inject({
              method: 'GET',
              url: `/i?${new URLSearchParams(Object.entries(events[0] ?? {}).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString()}`,
            })
          : await collector.app.inject({
              method: 'POST',
              url: '/com.snowplowanalytics.snowplow/tp2',
              headers: { 'content-type': 'application/json; charset=UTF-8' },
              payload: JSON.stringify({ schema, data: events }),
            });
        expect([200, 400, 403, 413, 503]).toContain(r.statusCode);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('fuzzing Parquet decimals', () => {
  it('reads any decimal of any physical type back as the exact text of what was written', async () => {
    const physical = [
      { type: 'INT32' as const, maxPrecision: 9 },
      { type: 'INT64' as const, maxPrecision: 18 },
      { type: 'FIXED_LEN_BYTE_ARRAY' as const, maxPrecision: 38 },
      { type: 'BYTE_ARRAY' as const, maxPrecision: 38 },
    ];
    const column = fc
      .record({ p: fc.constantFrom(...physical), precision: fc.integer({ min: 1, max: 38 }), scale: fc.integer({ min: 0, max: 38 }) })
      .chain(({ p, precision, scale }) => {
        const digits = Math.min(precision, p.maxPrecision);
        const bound = 10n ** BigInt(digits) - 1n;
        return fc.record({
          type: fc.constant(p.type),
          precision: fc.constant(digits),
          scale: fc.constant(Math.min(scale, digits)),
          values: fc.array(fc.option(fc.bigInt({ min: -bound, max: bound }), { nil: null }), { minLength: 1, maxLength: 20 }),
        });
      });
    await fc.assert(
      fc.asyncProperty(column, async ({ type, precision, scale, values }) => {
        const bytes = parquetWriteBuffer({
          columnData: [{ name: 'amount', data: values }],
          schema: [
            { name: 'root', num_children: 1 },
            {
              name: 'amount',
              type,
              repetition_type: 'OPTIONAL',
              converted_type: 'DECIMAL',
              precision,
              scale,
              ...(type === 'FIXED_LEN_BYTE_ARRAY' ? { type_length: 16 } : {}),
            },
          ],
        });
        const rows = await layerRows(Buffer.from(bytes), 'fuzz.parquet');
        expect(rows.map((r) => r.amount)).toEqual(values.map((v) => (v === null ? null : formatUnscaled(v, scale))));
      }),
      { numRuns: 2_000 },
    );
  });
});
