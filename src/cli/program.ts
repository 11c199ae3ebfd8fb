/** The `c360` command line: every command group, one file each in cli/commands/. docs/reference.md is generated from it. */
import { Command } from 'commander';
import { VERSION } from '../contracts/project.js';
import { registerCollectCommands } from './commands/collect.js';
import { registerConnectCommands } from './commands/connect.js';
import { registerIngestCommands } from './commands/ingest.js';
import { registerMatchingCommands } from './commands/matching.js';
import { registerPrivacyCommands } from './commands/privacy.js';
import { registerQuarantineCommands } from './commands/quarantine.js';
import { registerRawCommands } from './commands/raw.js';
import { registerSinkCommands } from './commands/sink.js';
import { registerTableCommands } from './commands/table.js';
import { registerTopologyCommands } from './commands/topology.js';
import { registerWatchCommands } from './commands/watch.js';
import { deferSignals, releaseSignals } from './early-signals.js';

/** Every production command, then those `extensions` add (bin/c360.js adds dev/cli's in a checkout). */
/** Commands that stop gracefully on SIGTERM (src/cli/shutdown.ts). */
const STOPPABLE = new Set(['run', 'sink', 'collect', 'watch', 'connect']);

export function buildProgram(extensions: ReadonlyArray<(program: Command) => void> = []): Command {
  const program = new Command('c360')
    .description('c360-ingest: collect customer data from every source into Kafka, check it, and land it in the raw layer.')
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(c360 <command> --help shows the usage)')
    .exitOverride();

  registerTopologyCommands(program);
  registerIngestCommands(program);
  registerCollectCommands(program);
  registerConnectCommands(program);
  registerWatchCommands(program);
  registerSinkCommands(program);
  registerQuarantineCommands(program);
  registerRawCommands(program);
  registerTableCommands(program);
  registerMatchingCommands(program);
  registerPrivacyCommands(program);
  for (const extend of extensions) extend(program);
  // Long-running commands take signals that arrive before their graceful stop is in place; the others get the default action back.
  program.hook('preAction', (_program, command) => {
    if (STOPPABLE.has(command.name())) deferSignals();
    else releaseSignals();
  });
  return program;
}
