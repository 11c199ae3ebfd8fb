/** The `c360` command line. Each command group lives in cli/commands/; errors end as one sentence, not a stack trace. */
import { Command, CommanderError } from 'commander';
import { C360Error, ConfigError } from '../contracts/errors.js';
import { registerCollectCommands } from './commands/collect.js';
import { registerConnectCommands } from './commands/connect.js';
import { registerDemoCommands } from './commands/demo.js';
import { registerIngestCommands } from './commands/ingest.js';
import { registerQuarantineCommands } from './commands/quarantine.js';
import { registerRawCommands } from './commands/raw.js';
import { registerSinkCommands } from './commands/sink.js';
import { registerStackCommands } from './commands/stack.js';
import { registerTopologyCommands } from './commands/topology.js';
import { registerWatchCommands } from './commands/watch.js';

const program = new Command('c360')
  .description('c360-ingest: collect customer data from every source into Kafka, check it, and land it in the raw layer.')
  .showHelpAfterError()
  .exitOverride();

registerStackCommands(program);
registerTopologyCommands(program);
registerIngestCommands(program);
registerCollectCommands(program);
registerConnectCommands(program);
registerWatchCommands(program);
registerDemoCommands(program);
registerSinkCommands(program);
registerQuarantineCommands(program);
registerRawCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof C360Error) {
    process.stderr.write(`c360: ${err.message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  throw err;
}
