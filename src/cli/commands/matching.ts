import fs from 'node:fs';
import type { Command } from 'commander';
import { ConfigError } from '../../contracts/errors.js';
import { type ComparisonProfile, profileOfRecord } from '../../matching/comparisons.js';
import { trainModel } from '../../matching/train.js';
import { openRawLayer, readRawLayer } from '../../privacy/raw-reader.js';
import { loadTopology } from '../../topology/load.js';
import { configWithStorage, integer, type TopologyOptions, withStorageToRead, withTopology, writableFile } from '../options.js';

interface TrainOptions extends TopologyOptions {
  source: string;
  sample: number;
  minRecords: number;
  out?: string;
  storage?: string;
}

export function registerMatchingCommands(program: Command): void {
  const matching = program.command('matching').description('The near-duplicate stage’s Fellegi–Sunter model (docs/contracts.md: NearDuplicate).');
  withStorageToRead(withTopology(matching.command('train')))
    .description(
      "Estimate a match model from a sample of a source's raw layer, without labels (u from random pairs, m by EM, as Splink does), and write its parameters as JSON for the topology's matching.model.",
    )
    .requiredOption('--source <source>', 'the source whose records are sampled (its entity must have nearDuplicates settings)')
    .option('--sample <n>', 'records sampled, uniformly (reservoir)', integer(1), 100_000)
    .option('--min-records <n>', 'refuse to train on fewer records: a model of a few records is noise', integer(1), 1_000)
    .option('--out <file>', 'where to write the model (default: standard output)', writableFile)
    .action(async (o: TrainOptions) => {
      const topology = await loadTopology(o.topology, o);
      const source = topology.sources.find((s) => s.name === o.source);
      if (!source)
        throw new ConfigError(`source "${o.source}" is not in topology ${topology.name} (it has ${topology.sources.map((s) => s.name).join(', ')}).`);
      const fields = source.nearDuplicates;
      if (!fields) throw new ConfigError(`source "${o.source}" has no nearDuplicates settings in topology ${topology.name}: nothing to train a model for.`);
      const layer = openRawLayer(configWithStorage(o.storage), topology, 'c360 matching train');
      // Reservoir sampling (Algorithm R): a uniform sample of rows in memory bounded by --sample.
      const sample: ComparisonProfile[] = [];
      let seen = 0;
      let forgotten = 0;
      try {
        for await (const row of readRawLayer(layer, { source: [o.source] })) {
          if (row.entity !== source.entity) continue;
          if (row.forgotten) {
            forgotten++;
            continue;
          }
          seen++;
          const profile = profileOfRecord(row.record, fields);
          if (sample.length < o.sample) sample.push(profile);
          else {
            const j = Math.floor(Math.random() * seen);
            if (j < o.sample) sample[j] = profile;
          }
        }
      } finally {
        await layer.close();
      }
      if (sample.length < o.minRecords)
        throw new ConfigError(
          `the raw layer holds ${sample.length} readable ${o.source} record(s) (${forgotten} of forgotten people skipped); train on at least --min-records ${o.minRecords}.`,
        );
      const model = trainModel(sample, { blocking: fields.blocking, cap: topology.nearDuplicateRefsPerKey });
      const text = `${JSON.stringify(model, null, 2)}\n`;
      if (o.out) fs.writeFileSync(o.out, text);
      else process.stdout.write(text);
      process.stderr.write(
        `trained on ${sample.length} of ${seen} ${o.source} record(s) (${forgotten} of forgotten people skipped): prior ${model.prior}${o.out ? `; written to ${o.out}` : ''}\n`,
      );
    });
}
