import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { ConfigError, describeError, safeMessage, UnreadableFileError } from '../../contracts/errors.js';
import { DEFAULT_BATCH_ROWS, duplicateNote, type IngestFileResult, ingestFile, PartlyIngestedError } from '../../extraction/file-ingest.js';
import { loadMappingFile } from '../../extraction/mapping.js';
import { progressReporter } from '../../extraction/progress.js';
import { FORMATS, formatOf, isDataFileName } from '../../extraction/readers/index.js';
import { createKafka } from '../../kafka/client.js';
import { toolLogger } from '../../observability/logger.js';
import { startTracing } from '../../observability/tracing.js';
import { openKeyStore } from '../../privacy/key-store.js';
import { pseudonymsFrom } from '../../privacy/pseudonyms.js';
import { RecordPrivacy } from '../../privacy/records.js';
import { UnidentifiedSealer } from '../../privacy/sealed.js';
import { KAFKA_OUTAGE_RETRY, retry } from '../../retry.js';
import { compileEntities } from '../../schema/entity.js';
import { openObjectStore } from '../../storage/backends.js';
import { loadTopology } from '../../topology/load.js';
import { deadLetterContract, prepareTopologyTopics } from '../../topology/setup.js';
import { delimiter, existingFile, existingPath, integer, report, withJsonLines, withTopology } from '../options.js';

/** Data files of a folder (not recursive), in name order; markers and hidden or partial files are not data. */
function dataFiles(target: string): string[] {
  if (!fs.existsSync(target)) throw new ConfigError(`${target} does not exist.`);
  if (!fs.statSync(target).isDirectory()) return [target];
  return fs
    .readdirSync(target)
    .filter((f) => isDataFileName(f) && fs.statSync(path.join(target, f)).isFile())
    .sort()
    .map((f) => path.join(target, f));
}

/** A file's outcome as `--json` prints it (ingest and watch alike): everything but the local copy's path. */
export function fileResult(r: IngestFileResult): Record<string, unknown> {
  const { file: _localCopy, ...result } = r;
  return result;
}

function summaryLine(r: IngestFileResult): string {
  const name = r.name;
  if (r.outcome === 'duplicate') return `${name}: ${duplicateNote(r)}`;
  const rate = Math.round(r.rows / Math.max(r.ms / 1000, 0.001));
  const resumed = r.outcome === 'resumed' ? ` (resumed at row ${r.resumedAt})` : '';
  const unknown = r.unknownColumns.length ? `; ignored columns: ${r.unknownColumns.join(', ')}` : '';
  return `${name}: ${r.rows} rows read${resumed}, ${r.sent} sent, ${r.deadLettered} dead-lettered, in ${(r.ms / 1000).toFixed(1)} s (${rate} rows/s)${unknown}`;
}

/**
 * Why a file did not finish, in one line. A file that cannot be read as its format sent nothing (or
 * says exactly what it sent); one stopped by a dependency (Kafka past its retries, the key store) may
 * have committed batches before: they stay, and a run again resumes after them.
 */
function failureLine(name: string, err: unknown): string {
  if (err instanceof PartlyIngestedError) return err.message;
  if (err instanceof UnreadableFileError || err instanceof ConfigError) return `${name}: not ingested: ${err.message}`;
  return `${name}: stopped: ${describeError(err)}; rows already committed stay, and running the command again resumes after them`;
}

export function registerIngestCommands(program: Command): void {
  withJsonLines(withTopology(program.command('ingest')))
    .argument('<path>', 'a file, or a folder whose files are ingested in name order', existingPath)
    .description(
      "Ingest a CSV, TSV, NDJSON or Parquet file (or every file of a folder) into a source's ingest topic, exactly once; unmappable rows are dead-lettered with their row number.",
    )
    .requiredOption('-s, --source <source>', 'the source the file comes from (a source of the topology)')
    .option('-e, --entity <entity>', "the entity the rows are (default: the source's)")
    .option('-m, --mapping <file>', 'JSON mapping: columns → fields, date formats, ignored columns, delimiter', existingFile)
    .option('-f, --format <format>', `${FORMATS.names().join(', ')} (default: from the extension; .gz is gunzipped)`)
    .option('--delimiter <char>', 'CSV delimiter (default ",", or the mapping file\'s)', delimiter)
    .option('--batch-rows <n>', 'rows per Kafka transaction (and per checkpoint)', integer(1, 100_000), DEFAULT_BATCH_ROWS)
    .option('--force', 'ingest a file again even if its sha256 was ingested for this source', false)
    .action(
      async (
        target: string,
        o: {
          source: string;
          entity?: string;
          mapping?: string;
          format?: string;
          delimiter?: string;
          batchRows: number;
          force: boolean;
          json: boolean;
          topology: string;
          namespace?: string;
        },
      ) => {
        const config = loadConfig();
        startTracing(config.tracing, 'ingest');
        const topology = await loadTopology(o.topology, o);
        const definition = topology.sources.find((s) => s.name === o.source);
        if (!definition)
          throw new ConfigError(
            `--source ${o.source} is not a source of topology ${topology.name} (known: ${topology.sources.map((s) => s.name).join(', ')}).`,
          );
        const entities = compileEntities(definition);
        const entity = o.entity ? entities.find((e) => e.name === o.entity || e.fullName === o.entity) : entities[0]!;
        if (!entity) throw new ConfigError(`--entity ${o.entity}: source ${o.source} carries ${entities.map((e) => e.name).join(', ')}.`);
        const mapping = loadMappingFile(o.mapping);
        if (o.delimiter) mapping.delimiter = o.delimiter;
        const files = dataFiles(target);
        const formats = files.map((f) => formatOf(f, o.format));

        const logger = toolLogger(config.logLevel);
        const kafka = createKafka(config, logger, 'ingest');
        // Outlives a broker failover at start as the files' own attempts do (a leader election answers "no leader" for seconds).
        const deadLetter = await retry(async () => {
          await prepareTopologyTopics(kafka, topology, config);
          return deadLetterContract(config, kafka, topology.namespace);
        }, KAFKA_OUTAGE_RETRY);
        const store = openObjectStore(config);
        const keyStore = openKeyStore(config, topology.namespace);
        const sealer = new UnidentifiedSealer(keyStore, new RecordPrivacy(pseudonymsFrom(config, 'c360 ingest')));

        let failed = 0;
        for (const [i, file] of files.entries()) {
          const progress = progressReporter(path.basename(file));
          try {
            const result = await ingestFile({
              kafka,
              namespace: topology.namespace,
              entity,
              file,
              format: formats[i]!,
              mapping,
              sourceKind: 'batch',
              deadLetter,
              sealer,
              maxRecordBytes: topology.maxRecordBytes,
              store,
              force: o.force,
              batchRows: o.batchRows,
              onProgress: (p) => progress.update(p),
              onRetry: (err, attempt, waitMs) =>
                logger.warn(
                  { file: path.basename(file), attempt, waitMs, err: safeMessage(err) },
                  'a Kafka transaction failed; resuming the file from its last committed row',
                ),
            });
            progress.done();
            report(o, fileResult(result), () => console.log(summaryLine(result)));
          } catch (err) {
            progress.done();
            failed++;
            const line = failureLine(path.basename(file), err);
            // The reason goes to stderr as text; with --json the file also has its line on stdout.
            if (o.json) console.log(JSON.stringify({ name: path.basename(file), outcome: 'failed', error: line }));
            console.error(line);
          }
        }
        await keyStore.close();
        if (files.length > 1 && !o.json) console.log(`${files.length - failed} of ${files.length} file(s) done`);
        if (failed > 0) process.exitCode = 1;
        // A client a failed attempt left connecting to a dead broker must not keep a finished command alive.
        setTimeout(() => process.exit(), 10_000).unref();
      },
    );
}
