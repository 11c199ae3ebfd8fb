/**
 * Reading back the raw layer's Parquet files (the sink listing what it stored, the quarantine and
 * raw-layer readers): rows or the footer of one file, or, for a file that is not Parquet c360 can
 * read (truncated, or something else put there under such a name), one sentence naming it.
 */
import { type FileMetaData, parquetMetadata } from 'hyparquet';
import { describeError, UnreadableFileError } from '../../contracts/errors.js';
import { readParquetRows } from '../../schema/parquet-decimal.js';

const arrayBufferOf = (bytes: Buffer): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

function unreadable(where: string, err: unknown): UnreadableFileError {
  return new UnreadableFileError(`${where} is not a Parquet file c360 can read (${describeError(err)})`, { cause: err });
}

/** The rows of a layer file (byte arrays as bytes when `utf8` is false; decimals as exact strings). */
export async function layerRows(bytes: Buffer, where: string, options: { utf8?: boolean } = {}): Promise<Record<string, unknown>[]> {
  try {
    const file = arrayBufferOf(bytes);
    return await readParquetRows({ file, metadata: parquetMetadata(file), ...options });
  } catch (err) {
    throw unreadable(where, err);
  }
}

/** The footer of a layer file: its row count and key-value metadata. */
export function layerFooter(bytes: Buffer, where: string): FileMetaData {
  try {
    return parquetMetadata(arrayBufferOf(bytes));
  } catch (err) {
    throw unreadable(where, err);
  }
}
