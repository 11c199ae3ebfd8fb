import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { LandingZone } from '../../extraction/landing-zone.js';
import { loadMappingFile, type MappingFile } from '../../extraction/mapping.js';
import { createKafka } from '../../kafka/client.js';
import { createLogger } from '../../observability/logger.js';
import { compilePrimaryEntity } from '../../schema/entity.js';
import { loadTopology } from '../../topology/load.js';
import { createTopologyTopics, registerDeadLetterSchema } from '../../topology/setup.js';
import fs from 'node:fs';

export function registerWatchCommands(program: Command): void {
  program
    .command('watch <folder>')
    .description('Watch a landing zone (one sub-folder per source): ingest each complete file, then archive it, or reject it with a reason.')
    .option('--require-done', 'take a file only when a <name>.done marker sits beside it', false)
    .option('--poll <ms>', 'time between scans', (v) => Number(v), 2_000)
    .option('--once', 'scan once and exit', false)
    .option('-t, --topology <name|file>', 'topology name in topologies/, or a .js/.json file', 'customer360')
    .option('-n, --namespace <prefix>', "override the topology's namespace")
    .action(async (folder: string, o: { requireDone: boolean; poll: number; once: boolean; topology: string; namespace?: string }) => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel);
      const topology = await loadTopology(o.topology, o);
      const kafka = createKafka(config, logger, 'watch');
      await createTopologyTopics(kafka, topology);
      const deadLetter = await registerDeadLetterSchema(config, topology.namespace);
      // A source's mapping, when it needs one, sits in the landing zone as <source>/.mapping.json.
      const mappings = new Map<string, MappingFile>();
      for (const s of topology.sources) {
        const file = path.join(folder, s.name, '.mapping.json');
        if (fs.existsSync(file)) mappings.set(s.name, loadMappingFile(file));
      }
      const abort = new AbortController();
      process.once('SIGTERM', () => abort.abort());
      process.once('SIGINT', () => abort.abort());
      const zone = new LandingZone({
        kafka, namespace: topology.namespace, deadLetter, root: path.resolve(folder), entities: new Map(topology.sources.map((s) => [s.name, compilePrimaryEntity(s)])),
        mappings, requireDone: o.requireDone, pollMs: o.poll, logger, signal: abort.signal,
        onFile: (source, r) => console.log('rejected' in r ? `${source}/${path.basename(r.file)}: rejected: ${r.rejected}` : `${source}/${path.basename(r.file)}: ${r.outcome}, ${r.rows} rows, ${r.sent} sent, ${r.deadLettered} dead-lettered`),
      });
      if (o.once) await zone.scan();
      else await zone.run();
    });
}
