/** What a sink landed in a local raw layer, read back from its Parquet files. */
import fs from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';

/** Rows and distinct ingest ids in the raw layer's raw/ files. */
export async function rawLayer(layer: string): Promise<{ rows: number; ingestIds: number }> {
  let rows = 0;
  const ids = new Set<string>();
  const dir = path.join(layer, 'raw');
  if (!fs.existsSync(dir)) return { rows: 0, ingestIds: 0 };
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    if (!f.endsWith('.parquet')) continue;
    const file = await asyncBufferFromFile(path.join(dir, f));
    rows += Number((await parquetMetadataAsync(file)).num_rows);
    for (const r of await parquetReadObjects({ file, columns: ['_ingest_id'] })) ids.add(String(r._ingest_id));
  }
  return { rows, ingestIds: ids.size };
}
