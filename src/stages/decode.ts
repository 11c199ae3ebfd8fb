/**
 * Stage 1: lineage headers, size limit, decoding and the schema check. Confluent-framed Avro is resolved from its
 * writer schema (fetched from the registry by id) to the entity's reader schema, so compatible
 * evolution works; JSON is checked against the same schema and coerced to its logical types.
 * For a source with several entities, the writer schema's name (Avro) or the `c360.entity`
 * header (JSON) says which entity a record is; without either it is the source's primary entity.
 */
import { isUtf8 } from 'node:buffer';
import type avro from 'avsc';
import type { RecordErrorEntry } from '../contracts/errors.js';
import { FRAME_HEADER_BYTES, framedSchemaId, MAGIC_BYTE } from '../contracts/framing.js';
import { HEADER, headerString } from '../contracts/lineage.js';
import { observe } from '../observability/record-profile.js';
import { AvroValueError } from '../schema/avro.js';
import type { CompiledEntity } from '../schema/entity.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../schema/json-depth.js';
import type { Envelope } from './envelope.js';
import { reject } from './envelope.js';
import { defineStage } from './stage.js';

const OPEN_BRACE = 0x7b;

function firstNonSpace(buf: Buffer): number {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09 && c !== 0xef && c !== 0xbb && c !== 0xbf) return c;
  }
  return -1;
}

const err = (code: RecordErrorEntry['code'], message: string): RecordErrorEntry[] => [{ code, field: null, message }];

export const decodeStage = defineStage({
  name: 'decode',
  description:
    "Checks the lineage headers and the size limit, decodes Confluent-framed Avro (resolving the writer schema to the entity's) or JSON (coerced to the schema's types), and tells a source's entities apart.",
  reads: [],
  writes: ['entity', 'value', 'observed'],
  create: (ctx) => {
    /** The source's entity whose schema has this full name, when the source has several. */
    function entityNamed(e: Envelope, fullName: string): CompiledEntity | undefined {
      const entities = ctx.entitiesOfSource.get(e.entity.source) ?? [];
      return entities.length > 1 ? entities.find((x) => x.fullName === fullName || x.name === fullName) : undefined;
    }

    // Per (source, writer id): the entity the writer schema names and the resolver to it, or why there is none.
    const readers = new Map<string, { entity: CompiledEntity; resolver: avro.Resolver | string }>();

    function readerFor(e: Envelope, writerId: number): { entity: CompiledEntity; resolver: avro.Resolver | string } | undefined {
      const key = `${e.entity.source}:${writerId}`;
      let r = readers.get(key);
      if (r === undefined) {
        const schema = ctx.writerSchemas.schema(writerId);
        if (schema === undefined) return undefined;
        const name = String(schema.name);
        const entity = entityNamed(e, schema.namespace && !name.includes('.') ? `${String(schema.namespace)}.${name}` : name) ?? e.entity;
        let resolver: avro.Resolver | string;
        try {
          resolver = entity.type.createResolver(ctx.writerSchemas.get(writerId)!);
        } catch (err) {
          resolver = err instanceof Error ? err.message.split('\n')[0]! : 'incompatible';
        }
        readers.set(key, (r = { entity, resolver }));
      }
      return r;
    }

    function decodeAvro(e: Envelope, buf: Buffer): void {
      if (buf.length < FRAME_HEADER_BYTES) return reject(e, 'decode', err('decode.truncated', 'shorter than the 5-byte Confluent frame'));
      const writerId = buf.readInt32BE(1);
      const reader = readerFor(e, writerId);
      if (reader === undefined) return reject(e, 'decode', err('decode.unknown_schema_id', `schema id ${writerId} is not in the registry`));
      e.entity = reader.entity;
      const { resolver } = reader;
      if (typeof resolver === 'string')
        return reject(e, 'decode', err('decode.incompatible_schema', `writer schema ${writerId} does not resolve to ${e.entity.name}: ${resolver}`));
      let decoded: { value: unknown; offset: number };
      try {
        decoded = e.entity.type.decode(buf, 5, resolver);
      } catch (error) {
        if (error instanceof AvroValueError) return reject(e, 'decode', err(error.code, error.message));
        return reject(e, 'decode', err('decode.truncated', 'the Avro body does not decode with its writer schema'));
      }
      if (decoded.offset !== buf.length) {
        return reject(
          e,
          'decode',
          err('decode.truncated', decoded.offset < 0 ? 'the Avro body ends before the record does' : 'bytes left over after the record'),
        );
      }
      e.value = decoded.value as Record<string, unknown>;
    }

    function decodeJson(e: Envelope, buf: Buffer): void {
      const declared = headerString(e.message.headers, HEADER.entity);
      if (declared !== undefined && declared !== e.entity.name && declared !== e.entity.fullName) {
        const entity = entityNamed(e, declared);
        if (!entity) return reject(e, 'decode', err('decode.unknown_entity', `source ${e.entity.source} carries no entity ${declared}`));
        e.entity = entity;
      }
      if (!isUtf8(buf)) return reject(e, 'decode', err('decode.invalid_utf8', 'the value is not valid UTF-8'));
      if (jsonTooDeep(buf)) return reject(e, 'decode', err('decode.too_deep', `nested deeper than ${MAX_JSON_DEPTH} levels`));
      let parsed: unknown;
      try {
        parsed = JSON.parse(buf.toString('utf8'));
      } catch {
        return reject(e, 'decode', err('decode.invalid_json', 'the value is not valid JSON'));
      }
      const { value, errors } = e.entity.coerceJson(parsed);
      if (errors.length > 0) return reject(e, 'decode', errors);
      e.value = value as Record<string, unknown>;
    }

    return {
      async process(batch) {
        const ids = new Set<number>();
        for (const e of batch) {
          const id = framedSchemaId(e.message.value);
          if (id !== undefined && !ctx.writerSchemas.has(id)) ids.add(id);
        }
        if (ids.size > 0) await ctx.writerSchemas.fetch(ids);

        for (const e of batch) {
          if (e.outcome !== 'pending') continue;
          const buf = e.message.value;
          if (e.lineageProblem !== undefined) {
            reject(e, 'decode', err('lineage.invalid', e.lineageProblem));
            continue;
          }
          if (!buf || buf.length === 0) {
            reject(e, 'decode', err('decode.malformed', 'empty value'));
            continue;
          }
          if (buf.length > ctx.topology.maxRecordBytes) {
            reject(e, 'size', err('size.too_large', `${buf.length} bytes, over the ${ctx.topology.maxRecordBytes}-byte limit`));
            continue;
          }
          if (buf[0] === MAGIC_BYTE) decodeAvro(e, buf);
          else if (firstNonSpace(buf) === OPEN_BRACE) decodeJson(e, buf);
          else reject(e, 'decode', err('decode.malformed', 'neither Confluent-framed Avro nor a JSON object'));
          // A blank natural id would land under an empty key, and every blank one would be the "same" record to dedup.
          if (e.outcome === 'pending' && e.entity.naturalId(e.value!).trim() === '')
            reject(e, 'decode', [{ code: 'schema.missing_required', field: e.entity.definition.key, message: 'the natural id is empty' }]);
          else if (e.outcome === 'pending') e.observed = observe(e.entity, e.value!);
        }
      },
    };
  },
});
