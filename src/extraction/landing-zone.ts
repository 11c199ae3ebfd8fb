/**
 * The landing zone (`c360 watch <folder | s3://bucket/prefix>`): where SFTP drops, bucket uploads
 * and vendor exports arrive, one sub-folder (or prefix) per source. A file is taken only once
 * complete — it has a `<name>.done` marker, or (without --require-done) it is not hidden, not named
 * like a partial upload (.tmp, .part, .partial, .filepart) and has not changed for the quiet
 * period, so a file still being written in place is left alone. It is moved to
 * `processing/<source>/`, ingested (source_kind `upload`), then moved to
 * `archive/<source>/<date>/`, or to `rejected/<source>/` with a `<name>.reason.txt` when the file
 * as a whole cannot be read. A file found in processing/ at start was interrupted: it is resumed
 * from its last committed row, so nothing is lost or sent twice. Storage: landing/.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { C360Error, ConfigError, describeError, UnreadableFileError } from '../contracts/errors.js';
import type { Logger } from '../observability/logger.js';
import type { CompiledEntity } from '../schema/entity.js';
import { type IngestFileOptions, type IngestFileResult, ingestFile } from './file-ingest.js';
import type { LandingStorage } from './landing/storage.js';
import { type MappingFile, parseMappingFile } from './mapping.js';
import { formatOf, isDataFileName } from './readers/index.js';

export interface LandingZoneOptions extends Pick<IngestFileOptions, 'kafka' | 'namespace' | 'deadLetter' | 'sealer' | 'maxRecordBytes' | 'store'> {
  storage: LandingStorage;
  entities: Map<string, CompiledEntity>;
  requireDone: boolean;
  /** How long a file must stay unchanged before it is taken without a marker. */
  quietMs: number;
  pollMs: number;
  logger: Logger;
  signal?: AbortSignal;
  now?: () => number;
  onFile?: (source: string, result: IngestFileResult | { rejected: string; file: string }) => void;
}

export class LandingZone {
  constructor(private readonly o: LandingZoneOptions) {}

  /** Files ready in a source's folder, oldest name first. */
  async ready(source: string): Promise<string[]> {
    const files = await this.o.storage.list(source);
    const markers = new Set(files.filter((f) => f.name.endsWith('.done')).map((f) => f.name.slice(0, -'.done'.length)));
    const now = (this.o.now ?? Date.now)();
    return files
      .filter((f) => isDataFileName(f.name) && (markers.has(f.name) || (!this.o.requireDone && now - f.modifiedMs >= this.o.quietMs)))
      .map((f) => f.name)
      .sort();
  }

  /** A source's mapping, when it needs one: `<source>/.mapping.json` in the landing zone, read at each file. */
  private async mapping(source: string): Promise<MappingFile> {
    const text = await this.o.storage.readText(source, '.mapping.json');
    return text === undefined ? { columns: {}, formats: {}, ignore: [] } : parseMappingFile(text, `${this.o.storage.url}${source}/.mapping.json`);
  }

  /** One pass: interrupted files first, then every ready file. Returns how many files were handled. */
  async scan(): Promise<number> {
    let handled = 0;
    const { storage } = this.o;
    for (const source of this.o.entities.keys()) {
      const processing = `processing/${source}`;
      const interrupted = (await storage.list(processing)).map((f) => f.name).sort();
      for (const name of interrupted) handled += (await this.process(source, name)) ? 1 : 0;
      for (const name of await this.ready(source)) {
        const taken = await storage.move(source, name, processing);
        await storage.remove(source, `${name}.done`);
        handled += (await this.process(source, taken)) ? 1 : 0;
      }
    }
    return handled;
  }

  async run(): Promise<void> {
    while (!this.o.signal?.aborted) {
      await this.scan();
      await sleep(this.o.pollMs, undefined, { signal: this.o.signal }).catch(() => undefined);
    }
  }

  /** Ingests a file from processing/; true when it left processing/ (archived or rejected). */
  private async process(source: string, name: string): Promise<boolean> {
    const { storage, ...o } = this.o;
    const processing = `processing/${source}`;
    let local: { path: string; release(): void } | undefined;
    try {
      local = await storage.local(processing, name);
      const result = await ingestFile({
        kafka: o.kafka,
        namespace: o.namespace,
        deadLetter: o.deadLetter,
        sealer: o.sealer,
        maxRecordBytes: o.maxRecordBytes,
        store: o.store,
        entity: o.entities.get(source)!,
        file: local.path,
        format: formatOf(name, undefined),
        mapping: await this.mapping(source),
        sourceKind: 'upload',
      });
      local.release();
      await storage.move(processing, name, `archive/${source}/${new Date().toISOString().slice(0, 10)}`);
      o.logger.info(
        { source, file: name, outcome: result.outcome, rows: result.rows, sent: result.sent, deadLettered: result.deadLettered },
        'landing-zone file done',
      );
      o.onFile?.(source, result);
      return true;
    } catch (err) {
      local?.release();
      if (err instanceof UnreadableFileError || err instanceof ConfigError) {
        const target = await storage.move(processing, name, `rejected/${source}`);
        await storage.writeText(`rejected/${source}`, `${target}.reason.txt`, `${err instanceof C360Error ? err.code : 'error'}: ${err.message}\n`);
        o.logger.warn({ source, file: name, reason: err.message }, 'landing-zone file rejected');
        o.onFile?.(source, { rejected: err.message, file: `rejected/${source}/${target}` });
        return true;
      }
      // Kafka, the registry or the bucket is away: the file stays in processing/ and is resumed on the next pass.
      o.logger.warn({ source, file: name, err: describeError(err) }, 'landing-zone file will be retried');
      return false;
    }
  }
}
