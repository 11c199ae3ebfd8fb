/**
 * Avro object container files (the Avro spec's "Object Container Files"), as Iceberg's manifests
 * and manifest lists are: a header with the writer schema and string metadata, then blocks of
 * records. Written in one block without compression; read with the null or deflate codec (Iceberg's
 * Java writers deflate by default). The header keeps the schema exactly as given, so Iceberg's
 * `field-id` attributes reach the readers that project by them. Records are read with the project's
 * guarded types (schema/avro.ts): a garbled count or length is refused, never read on past the end;
 * a long beyond 2^53 (another engine's snapshot id) is a bigint (contracts/long-json.ts).
 */
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { UnreadableFileError } from '../contracts/errors.js';
import { parseType } from '../schema/avro.js';

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);
const LONG = parseType('long');
const BYTES_MAP = parseType({ type: 'map', values: 'bytes' });

export function writeAvroFile(schema: Record<string, unknown>, records: unknown[], metadata: Record<string, string>): Buffer {
  const type = parseType(schema, { wideLongs: true });
  const meta = Object.fromEntries([
    ...Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v)] as const),
    ['avro.schema', Buffer.from(JSON.stringify(schema))],
    ['avro.codec', Buffer.from('null')],
  ]);
  const sync = randomBytes(16);
  const body = Buffer.concat(records.map((r) => type.toBuffer(r)));
  const parts = [MAGIC, BYTES_MAP.toBuffer(meta), sync];
  if (records.length > 0) parts.push(LONG.toBuffer(records.length), LONG.toBuffer(body.length), body, sync);
  return Buffer.concat(parts);
}

export interface AvroFile {
  schema: Record<string, unknown>;
  metadata: Record<string, string>;
  records: Array<Record<string, unknown>>;
}

/** Reads every record with the file's own writer schema. */
export function readAvroFile(buffer: Buffer, name: string): AvroFile {
  const fail = (why: string) => new UnreadableFileError(`${name} is not an Avro container file c360 can read: ${why}`);
  if (buffer.length < 4 || !buffer.subarray(0, 4).equals(MAGIC)) throw fail('no Avro magic');
  try {
    let pos = 4;
    const header = BYTES_MAP.decode(buffer, pos);
    if (header.offset < 0) throw fail('a truncated header');
    pos = header.offset;
    const meta = header.value as Record<string, Buffer>;
    const sync = buffer.subarray(pos, pos + 16);
    pos += 16;
    const schema = JSON.parse(meta['avro.schema']!.toString()) as Record<string, unknown>;
    const codec = meta['avro.codec']?.toString() ?? 'null';
    if (codec !== 'null' && codec !== 'deflate') throw fail(`its codec ${codec} is not supported`);
    const type = parseType(schema, { wideLongs: true });
    const records: Array<Record<string, unknown>> = [];
    while (pos < buffer.length) {
      const count = LONG.decode(buffer, pos);
      const size = LONG.decode(buffer, count.offset);
      const start = size.offset;
      const end = start + Number(size.value);
      if (count.offset < 0 || size.offset < 0 || end + 16 > buffer.length) throw fail('a truncated block');
      const raw = buffer.subarray(start, end);
      const block = codec === 'deflate' ? zlib.inflateRawSync(raw) : raw;
      let at = 0;
      for (let i = 0; i < Number(count.value); i++) {
        const r = type.decode(block, at);
        if (r.offset < 0) throw fail('a record cut short');
        records.push(r.value as Record<string, unknown>);
        at = r.offset;
      }
      if (!buffer.subarray(end, end + 16).equals(sync)) throw fail('a block without its sync marker');
      pos = end + 16;
    }
    return { schema, metadata: Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, v.toString()])), records };
  } catch (err) {
    if (err instanceof UnreadableFileError) throw err;
    throw fail((err as Error).message);
  }
}
