/**
 * The landing zone (`c360 watch <folder | s3://bucket/prefix>`): where SFTP drops, bucket uploads
 * and vendor exports arrive, one sub-folder (or prefix) per source. A file is taken only once
 * complete — it has a `<name>.done` marker, or (without --require-done) it is not hidden, not named
 * like a partial upload (.tmp, .part, .partial, .filepart) and has not changed for the quiet
 * period, so a file still being written in place is left alone. It is moved to
 * `processing/<source>/`, ingested (source_kind `upload`), then moved to
 * `archive/<source>/<date>/`, or to `rejected/<source>/` with a `<name>.reason.txt` when the file
 * as a whole cannot be read (after FILE_ATTEMPTS tries when the filesystem refused it), or is a
 * symbolic link. A file found in processing/ at start was interrupted: it is resumed from its last
 * committed row, so nothing is lost or sent twice. An outage (Kafka, the registry, the key store,
 * the bucket) leaves the file in processing/ for the next pass; a source whose folder cannot be used
 * (a symbolic link out of the zone) is skipped with an error, and the others go on. Storage: landing/.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type C360Error, ConfigError, DependencyRefusedError, describeError, UnreadableFileError } from '../contracts/errors.js';
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

/** Tries of a file the filesystem or the bucket refuses to read (a permission being fixed by the uploader), before it is rejected. */
const FILE_ATTEMPTS = 3;

/** A file or a source the last pass left to retry, and why. */
export interface LeftOver {
  where: string;
  reason: string;
}

export class LandingZone {
  /** What the last pass left: files in processing/ waiting for an outage to end, sources that could not be scanned. */
  leftOver: LeftOver[] = [];

  constructor(private readonly o: LandingZoneOptions) {}

  /** Files ready in a source's folder, oldest name first. */
  async ready(source: string): Promise<string[]> {
    const files = await this.o.storage.list(source);
    const markers = new Set(files.filter((f) => f.name.endsWith('.done')).map((f) => f.name.slice(0, -'.done'.length)));
    const now = (this.o.now ?? Date.now)();
    return files
      .filter((f) => f.link || (isDataFileName(f.name) && (markers.has(f.name) || (!this.o.requireDone && now - f.modifiedMs >= this.o.quietMs))))
      .map((f) => f.name)
      .sort();
  }

  /** A source's mapping, when it needs one: `<source>/.mapping.json` in the landing zone, read at each file. */
  private async mapping(source: string): Promise<MappingFile> {
    const text = await this.o.storage.readText(source, '.mapping.json');
    return text === undefined ? { columns: {}, formats: {}, ignore: [] } : parseMappingFile(text, `${this.o.storage.url}${source}/.mapping.json`);
  }

  /** One pass: interrupted files first, then every ready file. Returns how many files were handled; `leftOver` says what was not. */
  async scan(): Promise<number> {
    let handled = 0;
    this.leftOver = [];
    const { storage } = this.o;
    for (const source of this.o.entities.keys()) {
      if (this.o.signal?.aborted) break;
      const processing = `processing/${source}`;
      try {
        const interrupted = (await storage.list(processing)).map((f) => f.name).sort();
        for (const name of interrupted) handled += (await this.process(source, name)) ? 1 : 0;
        for (const name of await this.ready(source)) {
          if (this.o.signal?.aborted) break;
          const taken = await storage.move(source, name, processing).catch(async (err: unknown) => {
            // Gone since the listing: another watcher of the zone took it first, which is no failure.
            if ((await storage.list(source)).some((f) => f.name === name)) throw err;
            return undefined;
          });
          if (taken === undefined) continue;
          await storage.remove(source, `${name}.done`);
          handled += (await this.process(source, taken)) ? 1 : 0;
        }
      } catch (err) {
        // One source's folder that cannot be used (a symbolic link out of the zone, no permission) does not stop the others.
        this.leftOver.push({ where: source, reason: describeError(err) });
        this.o.logger.error({ source, err: describeError(err) }, 'landing-zone source skipped this pass');
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
    const processing = `processing/${source}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ingest(source, name);
        return true;
      } catch (err) {
        // The file itself cannot be read as its format, or is not one: rejected at once, the same every time.
        const retriedFile = err instanceof UnreadableFileError && readRefused(err);
        if ((err instanceof UnreadableFileError || err instanceof ConfigError) && !retriedFile) return this.reject(source, name, err);
        if (retriedFile) {
          if (attempt >= FILE_ATTEMPTS) return this.reject(source, name, err as C360Error, attempt);
          this.o.logger.warn({ source, file: name, attempt, err: describeError(err) }, 'landing-zone file could not be read; trying again');
          const stopped = await sleep(500 * attempt, false, { signal: this.o.signal }).catch(() => true);
          if (!stopped) continue;
        }
        // Kafka, the registry, the key store or the bucket is away: the file stays in processing/ and is resumed on the next pass.
        this.leftOver.push({ where: `${processing}/${name}`, reason: describeError(err) });
        this.o.logger.warn({ source, file: name, err: describeError(err) }, 'landing-zone file will be retried');
        return false;
      }
    }
  }

  private async ingest(source: string, name: string): Promise<void> {
    const { storage, ...o } = this.o;
    const processing = `processing/${source}`;
    const local = await storage.local(processing, name).catch((err: unknown) => {
      // The bucket refusing this one object (a permission, a key it may not use) is the file's problem, not an outage.
      throw err instanceof DependencyRefusedError ? new UnreadableFileError(`${name} cannot be read: ${err.message}`, { cause: err }) : err;
    });
    let result: IngestFileResult;
    try {
      result = await ingestFile({
        kafka: o.kafka,
        namespace: o.namespace,
        deadLetter: o.deadLetter,
        sealer: o.sealer,
        maxRecordBytes: o.maxRecordBytes,
        store: o.store,
        entity: o.entities.get(source)!,
        file: local.path,
        name,
        format: formatOf(name, undefined),
        mapping: await this.mapping(source),
        sourceKind: 'upload',
        signal: o.signal,
      });
    } finally {
      local.release();
    }
    await storage.move(processing, name, `archive/${source}/${new Date().toISOString().slice(0, 10)}`);
    o.logger.info(
      { source, file: name, outcome: result.outcome, rows: result.rows, sent: result.sent, deadLettered: result.deadLettered },
      'landing-zone file done',
    );
    o.onFile?.(source, result);
  }

  /** Moves the file to rejected/ with its reason beside it. */
  private async reject(source: string, name: string, err: C360Error, attempts = 1): Promise<true> {
    const { storage } = this.o;
    const target = await storage.move(`processing/${source}`, name, `rejected/${source}`);
    const tries = attempts > 1 ? ` (after ${attempts} tries)` : '';
    await storage.writeText(`rejected/${source}`, `${target}.reason.txt`, `${err.code}: ${err.message}${tries}\n`);
    this.o.logger.warn({ source, file: name, reason: err.message }, 'landing-zone file rejected');
    this.o.onFile?.(source, { rejected: `${err.message}${tries}`, file: `rejected/${source}/${target}` });
    return true;
  }
}

/** Whether a file was unreadable because reading it was refused (a permission, which someone may be fixing), not for its contents. */
function readRefused(err: UnreadableFileError): boolean {
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return err.cause instanceof DependencyRefusedError || (typeof code === 'string' && /^E[A-Z]+$/.test(code));
}
