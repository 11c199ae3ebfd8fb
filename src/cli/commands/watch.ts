import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { LandingZone } from '../../extraction/landing-zone.js';
import { loadMappingFile, type MappingFile } from '../../extraction/mapping.js';
import { extractionMetrics } from '../../extraction/metrics.js';
import { createKafka } from '../../kafka/client.js';
import { createLogger } from '../../observability/logger.js';
import { metricsRegistry } from '../../observability/metrics.js';
import { openKeyStore } from '../../privacy/key-store.js';
import { pseudonymsFrom } from '../../privacy/pseudonyms.js';
import { RecordPrivacy } from '../../privacy/records.js';
import { UnidentifiedSealer } from '../../privacy/sealed.js';
import { compilePrimaryEntity } from '../../schema/entity.js';
import { openObjectStore } from '../../storage/backends.js';
import { loadTopology } from '../../topology/load.js';
import { deadLetterContract, prepareTopologyTopics } from '../../topology/setup.js';
import { serveOps } from '../ops.js';
import { existingFolder, integer, type TopologyOptions, withOpsPort, withTopology } from '../options.js';

export function registerWatchCommands(program: Command): void {
  withOpsPort(withTopology(program.command('watch')))
    .argument('<folder>', 'the landing zone: one sub-folder per source', existingFolder)
    .description('Watch a landing zone (one sub-folder per source): ingest each complete file, then archive it, or reject it with a reason.')
    .option('--require-done', 'take a file only when a <name>.done marker sits beside it', false)
    .option('--poll <ms>', 'time between scans', integer(10), 2_000)
    .option('--once', 'scan once and exit', false)
    .action(async (folder: string, o: TopologyOptions & { requireDone: boolean; poll: number; once: boolean; opsPort?: number }) => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel);
      const topology = await loadTopology(o.topology, o);
      const kafka = createKafka(config, logger, 'watch');
      await prepareTopologyTopics(kafka, topology, config);
      const deadLetter = await deadLetterContract(config, kafka, topology.namespace);
      const keyStore = openKeyStore(config, topology.namespace);
      const sealer = new UnidentifiedSealer(keyStore, new RecordPrivacy(pseudonymsFrom(config, 'c360 watch')));
      // A source's mapping, when it needs one, sits in the landing zone as <source>/.mapping.json.
      const mappings = new Map<string, MappingFile>();
      for (const s of topology.sources) {
        const file = path.join(folder, s.name, '.mapping.json');
        if (fs.existsSync(file)) mappings.set(s.name, loadMappingFile(file));
      }
      // A single scan is a job, not a service: only a watcher that keeps watching serves the ops endpoints.
      const ops = o.once ? undefined : await serveOps(config, o.opsPort, ['kafka'], logger);
      ops?.addReadinessCheck('landing zone', async () => void fs.accessSync(folder, fs.constants.R_OK | fs.constants.W_OK));
      const metrics = extractionMetrics(metricsRegistry());
      const abort = new AbortController();
      process.once('SIGTERM', () => abort.abort());
      process.once('SIGINT', () => abort.abort());
      const zone = new LandingZone({
        kafka,
        namespace: topology.namespace,
        deadLetter,
        sealer,
        maxRecordBytes: topology.maxRecordBytes,
        store: openObjectStore(config),
        root: path.resolve(folder),
        entities: new Map(topology.sources.map((s) => [s.name, compilePrimaryEntity(s)])),
        mappings,
        requireDone: o.requireDone,
        pollMs: o.poll,
        logger,
        signal: abort.signal,
        onFile: (source, r) => {
          if ('rejected' in r) {
            metrics.files.inc({ source, outcome: 'rejected' });
            console.log(`${source}/${path.basename(r.file)}: rejected: ${r.rejected}`);
            return;
          }
          metrics.files.inc({ source, outcome: r.outcome });
          metrics.rows.inc({ source, route: 'sent' }, r.sent);
          metrics.rows.inc({ source, route: 'dead_lettered' }, r.deadLettered);
          console.log(`${source}/${path.basename(r.file)}: ${r.outcome}, ${r.rows} rows, ${r.sent} sent, ${r.deadLettered} dead-lettered`);
        },
      });
      try {
        if (o.once) await zone.scan();
        else await zone.run();
      } finally {
        await ops?.close();
        await keyStore.close();
      }
    });
}
