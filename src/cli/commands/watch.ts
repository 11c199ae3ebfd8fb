import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { duplicateNote } from '../../extraction/file-ingest.js';
import { openLanding } from '../../extraction/landing/open.js';
import { LandingZone } from '../../extraction/landing-zone.js';
import { extractionMetrics } from '../../extraction/metrics.js';
import { createKafka } from '../../kafka/client.js';
import { createLogger } from '../../observability/logger.js';
import { metricsRegistry } from '../../observability/metrics.js';
import { startTracing } from '../../observability/tracing.js';
import { openKeyStore } from '../../privacy/key-store.js';
import { pseudonymsFrom } from '../../privacy/pseudonyms.js';
import { RecordPrivacy } from '../../privacy/records.js';
import { UnidentifiedSealer } from '../../privacy/sealed.js';
import { compilePrimaryEntity } from '../../schema/entity.js';
import { openObjectStore } from '../../storage/backends.js';
import { loadTopology } from '../../topology/load.js';
import { deadLetterContract, prepareTopologyTopics } from '../../topology/setup.js';
import { serveOps } from '../ops.js';
import { existingFolder, integer, milliseconds, report, type TopologyOptions, withJsonLines, withOpsPort, withTopology } from '../options.js';
import { stopSignal } from '../shutdown.js';
import { fileResult } from './ingest.js';

/** A name as a terminal shows it: an object key may hold control characters, which are escaped rather than obeyed. */
const shown = (text: string) => text.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function registerWatchCommands(program: Command): void {
  withJsonLines(withOpsPort(withTopology(program.command('watch'))))
    .argument('<zone>', 'the landing zone: a folder, or s3://bucket/prefix; one sub-folder (prefix) per source', (v: string) =>
      /^s3:\/\/[^/]+/.test(v) ? v : existingFolder(v),
    )
    .description(
      'Watch a landing zone (a folder or an S3 bucket prefix, one sub-folder per source): ingest each complete file, then archive it, or reject it with a reason.',
    )
    .option('--require-done', 'take a file only when a <name>.done marker sits beside it', false)
    .option('--quiet-seconds <s>', 'without a marker, take a file once it has not changed for this long (written in place)', integer(0), 10)
    .option('--poll <ms>', 'time between scans', milliseconds(10), 2_000)
    .option('--once', 'scan once and exit', false)
    .action(
      async (
        zone: string,
        o: TopologyOptions & { requireDone: boolean; quietSeconds: number; poll: number; once: boolean; opsPort?: number; json: boolean },
      ) => {
        const config = loadConfig();
        startTracing(config.tracing, 'watch');
        const logger = createLogger(config.logLevel);
        const stop = stopSignal(logger, 'the landing-zone watcher');
        const topology = await loadTopology(o.topology, o);
        const kafka = createKafka(config, logger, 'watch');
        await prepareTopologyTopics(kafka, topology, config);
        const deadLetter = await deadLetterContract(config, kafka, topology.namespace);
        const keyStore = openKeyStore(config, topology.namespace);
        const sealer = new UnidentifiedSealer(keyStore, new RecordPrivacy(pseudonymsFrom(config, 'c360 watch')));
        const storage = openLanding(zone.startsWith('s3://') ? zone : path.resolve(zone), config);
        // A single scan is a job, not a service: only a watcher that keeps watching serves the ops endpoints.
        const ops = o.once ? undefined : await serveOps(config, o.opsPort, ['kafka'], logger);
        ops?.addReadinessCheck('landing zone', () => storage.check());
        const metrics = extractionMetrics(metricsRegistry());
        const landing = new LandingZone({
          kafka,
          namespace: topology.namespace,
          deadLetter,
          sealer,
          maxRecordBytes: topology.maxRecordBytes,
          store: openObjectStore(config),
          storage,
          entities: new Map(topology.sources.map((s) => [s.name, compilePrimaryEntity(s)])),
          requireDone: o.requireDone,
          quietMs: o.quietSeconds * 1000,
          pollMs: o.poll,
          logger,
          signal: stop,
          onFile: (source, r) => {
            if ('rejected' in r) {
              metrics.files.inc({ source, outcome: 'rejected' });
              const file = path.basename(r.file);
              report(o, { source, name: file, outcome: 'rejected', reason: r.rejected }, () =>
                console.log(`${source}/${shown(file)}: rejected: ${shown(r.rejected)}`),
              );
              return;
            }
            metrics.files.inc({ source, outcome: r.outcome });
            if (r.outcome === 'duplicate') {
              report(o, { source, ...fileResult(r) }, () => console.log(`${source}/${shown(r.name)}: ${shown(duplicateNote(r))}`));
              return;
            }
            metrics.rows.inc({ source, route: 'sent' }, r.sent);
            metrics.rows.inc({ source, route: 'dead_lettered' }, r.deadLettered);
            report(o, { source, ...fileResult(r) }, () =>
              console.log(`${source}/${shown(r.name)}: ${r.outcome}, ${r.rows} rows, ${r.sent} sent, ${r.deadLettered} dead-lettered`),
            );
          },
        });
        try {
          if (o.once) {
            await landing.scan();
            // A single pass that could not finish says what it left, and exits 1: a job runner retries it.
            for (const left of landing.leftOver) console.error(`${shown(left.where)}: left to retry: ${shown(left.reason)}`);
            if (landing.leftOver.length > 0) process.exitCode = 1;
          } else await landing.run();
        } finally {
          await ops?.close();
          await keyStore.close();
          storage.close();
        }
      },
    );
}
