/**
 * The landing zone (`c360 watch <folder>`): where SFTP drops, bucket syncs and vendor exports
 * arrive, one sub-folder per source. A file is taken only once complete — it has a `<name>.done`
 * marker, or (without --require-done) it is not hidden and not named like a partial upload
 * (.tmp, .part, .partial, .filepart), since uploaders rename a finished file into place. It is
 * moved to `processing/<source>/`, ingested (source_kind `upload`), then moved to
 * `archive/<source>/<date>/`, or to `rejected/<source>/` with a `<name>.reason.txt` when the file
 * as a whole cannot be read. A file found in processing/ at start was interrupted: it is resumed
 * from its last committed row, so nothing is lost or sent twice.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { C360Error, ConfigError, describeError, UnreadableFileError } from '../contracts/errors.js';
import type { Logger } from '../observability/logger.js';
import type { CompiledEntity } from '../schema/entity.js';
import { type IngestFileOptions, type IngestFileResult, ingestFile } from './file-ingest.js';
import type { MappingFile } from './mapping.js';
import { formatOf, isDataFileName } from './readers/index.js';

export interface LandingZoneOptions extends Pick<IngestFileOptions, 'kafka' | 'namespace' | 'deadLetter' | 'sealer' | 'maxRecordBytes' | 'store'> {
  root: string;
  entities: Map<string, CompiledEntity>;
  /** Per source; a source without one maps columns by name. */
  mappings: Map<string, MappingFile>;
  requireDone: boolean;
  pollMs: number;
  logger: Logger;
  signal?: AbortSignal;
  onFile?: (source: string, result: IngestFileResult | { rejected: string; file: string }) => void;
}

function moveInto(file: string, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const name = path.basename(file);
  let target = path.join(dir, name);
  // A file of the same name already there (a re-delivery) is kept; this one gets a suffix before
  // its extensions, so its name still tells its format.
  if (fs.existsSync(target)) {
    const dot = name.indexOf('.', 1);
    target = path.join(dir, dot > 0 ? `${name.slice(0, dot)}-${Date.now()}${name.slice(dot)}` : `${name}-${Date.now()}`);
  }
  fs.renameSync(file, target);
  return target;
}

export class LandingZone {
  constructor(private readonly o: LandingZoneOptions) {}

  /** Files ready in a source's folder, oldest name first. */
  ready(source: string): string[] {
    const dir = path.join(this.o.root, source);
    if (!fs.existsSync(dir)) return [];
    const names = fs.readdirSync(dir);
    const markers = new Set(names.filter((n) => n.endsWith('.done')).map((n) => n.slice(0, -'.done'.length)));
    return names
      .filter((n) => isDataFileName(n) && fs.statSync(path.join(dir, n)).isFile() && (!this.o.requireDone || markers.has(n)))
      .sort()
      .map((n) => path.join(dir, n));
  }

  /** One pass: interrupted files first, then every ready file. Returns how many files were handled. */
  async scan(): Promise<number> {
    let handled = 0;
    for (const source of this.o.entities.keys()) {
      const processing = path.join(this.o.root, 'processing', source);
      const interrupted = fs.existsSync(processing)
        ? fs
            .readdirSync(processing)
            .sort()
            .map((n) => path.join(processing, n))
        : [];
      for (const file of interrupted) handled += (await this.process(source, file)) ? 1 : 0;
      for (const file of this.ready(source)) {
        const taken = moveInto(file, processing);
        fs.rmSync(`${file}.done`, { force: true });
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
  private async process(source: string, file: string): Promise<boolean> {
    const o = this.o;
    const name = path.basename(file);
    try {
      const result = await ingestFile({
        kafka: o.kafka,
        namespace: o.namespace,
        deadLetter: o.deadLetter,
        sealer: o.sealer,
        maxRecordBytes: o.maxRecordBytes,
        store: o.store,
        entity: o.entities.get(source)!,
        file,
        format: formatOf(name, undefined),
        mapping: o.mappings.get(source) ?? { columns: {}, formats: {}, ignore: [] },
        sourceKind: 'upload',
      });
      moveInto(file, path.join(o.root, 'archive', source, new Date().toISOString().slice(0, 10)));
      o.logger.info(
        { source, file: name, outcome: result.outcome, rows: result.rows, sent: result.sent, deadLettered: result.deadLettered },
        'landing-zone file done',
      );
      o.onFile?.(source, result);
      return true;
    } catch (err) {
      if (err instanceof UnreadableFileError || err instanceof ConfigError) {
        const target = moveInto(file, path.join(o.root, 'rejected', source));
        fs.writeFileSync(`${target}.reason.txt`, `${err instanceof C360Error ? err.code : 'error'}: ${err.message}\n`);
        o.logger.warn({ source, file: name, reason: err.message }, 'landing-zone file rejected');
        o.onFile?.(source, { rejected: err.message, file: target });
        return true;
      }
      // Kafka or the registry is away: the file stays in processing/ and is resumed on the next pass.
      o.logger.warn({ source, file: name, err: describeError(err) }, 'landing-zone file will be retried');
      return false;
    }
  }
}
