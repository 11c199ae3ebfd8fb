/**
 * Parquet files of one schema joined into one, their row groups copied byte for byte: what a table's
 * compaction writes. No value is decoded or encoded again, so every row, sealed personal values
 * included, is the same in the joined file as in the file it came from. Page indexes and bloom
 * filters are left out: their page locations are offsets in the source files.
 */
import type { ColumnChunk, FileMetaData, RowGroup } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { layerFooter } from './read.js';

const MAGIC = Buffer.from('PAR1');

const shifted = (offset: bigint | undefined, by: bigint) => (offset === undefined ? undefined : offset + by);

/** Where a row group's column chunks lie in its file: from the first page of the first chunk to the end of the last. */
function extent(group: RowGroup): { start: bigint; end: bigint } {
  let start: bigint | undefined;
  let end = 0n;
  for (const c of group.columns) {
    const m = c.meta_data!;
    const first = m.dictionary_page_offset !== undefined && m.dictionary_page_offset > 0n ? m.dictionary_page_offset : m.data_page_offset;
    start = start === undefined || first < start ? first : start;
    end = first + m.total_compressed_size > end ? first + m.total_compressed_size : end;
  }
  return { start: start ?? 4n, end };
}

function moved(c: ColumnChunk, by: bigint): ColumnChunk {
  const m = c.meta_data!;
  return {
    ...c,
    file_offset: c.file_offset + by,
    meta_data: {
      ...m,
      data_page_offset: m.data_page_offset + by,
      ...(m.dictionary_page_offset !== undefined ? { dictionary_page_offset: shifted(m.dictionary_page_offset, by) } : {}),
      ...(m.index_page_offset !== undefined ? { index_page_offset: shifted(m.index_page_offset, by) } : {}),
      bloom_filter_offset: undefined,
      bloom_filter_length: undefined,
    },
    offset_index_offset: undefined,
    offset_index_length: undefined,
    column_index_offset: undefined,
    column_index_length: undefined,
  };
}

/**
 * The files joined, in the order given. They must share one Parquet schema (the caller groups them
 * by writer schema); the footer's key-value metadata is the first file's, less `drop`'s keys.
 */
export function concatParquet(files: Array<{ bytes: Buffer; where: string }>, drop: ReadonlySet<string> = new Set()): Buffer {
  const parts: Buffer[] = [MAGIC];
  let at = BigInt(MAGIC.length);
  const groups: RowGroup[] = [];
  let first: FileMetaData | undefined;
  for (const { bytes, where } of files) {
    const meta = layerFooter(bytes, where);
    if (first && JSON.stringify(meta.schema) !== JSON.stringify(first.schema))
      throw new Error(`${where} has another schema than ${files[0]!.where}; only files of one schema are joined`);
    first ??= meta;
    for (const group of meta.row_groups) {
      const { start, end } = extent(group);
      parts.push(bytes.subarray(Number(start), Number(end)));
      const by = at - start;
      groups.push({ ...group, columns: group.columns.map((c) => moved(c, by)), file_offset: shifted(group.file_offset, by), ordinal: groups.length });
      at += end - start;
    }
  }
  if (!first) throw new Error('no files to join');
  const { metadata_length: _, ...rest } = first;
  // The footer as hyparquet-writer writes its own: the metadata, then its length.
  const footer = new ByteWriter();
  writeMetadata(footer, {
    ...rest,
    num_rows: groups.reduce((n, g) => n + g.num_rows, 0n),
    row_groups: groups,
    key_value_metadata: first.key_value_metadata?.filter((kv) => !drop.has(kv.key)),
  } as FileMetaData);
  return Buffer.concat([...parts, Buffer.from(footer.getBuffer()), MAGIC]);
}
