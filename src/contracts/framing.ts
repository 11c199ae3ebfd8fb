/**
 * The Confluent wire format every Avro value on c360's topics uses: a zero magic byte, the
 * writer schema's registry id (4 bytes, big-endian), then the Avro binary body.
 */

export const MAGIC_BYTE = 0;
export const FRAME_HEADER_BYTES = 5;

export function frame(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  out[0] = MAGIC_BYTE;
  out.writeInt32BE(schemaId, 1);
  body.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** The writer schema id of a framed value, or undefined when the value is not framed. */
export function framedSchemaId(value: Buffer | null | undefined): number | undefined {
  return value && value.length >= FRAME_HEADER_BYTES && value[0] === MAGIC_BYTE ? value.readInt32BE(1) : undefined;
}
