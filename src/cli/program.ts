/** The `c360` command line: every command group, one file each in cli/commands/. docs/reference.md is generated from it. */
import { Command } from 'commander';
import { VERSION } from '../contracts/project.js';
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

export function buildProgram(): Command {
  const program = new Command('c360')
    .description('c360-ingest: collect customer data from every source into Kafka, check it, and land it in the raw layer.')
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(c360 <command> --help shows the usage)')
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
  return program;
}
