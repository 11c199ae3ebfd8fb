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

/**
 * Commands that run until SIGTERM and then stop gracefully (src/cli/shutdown.ts): always, or with
 * the option that makes them serve or repeat. The others are one-shot and keep the default action.
 */
const STOPPABLE: Record<string, (options: Record<string, unknown>) => boolean> = {
  run: () => true,
  sink: () => true,
  collect: () => true,
  watch: () => true,
  connect: () => true,
  console: () => true,
  lag: (o) => o.serve === true,
  checks: (o) => o.serve === true,
  maintain: (o) => o.every !== undefined,
};

export function runsUntilStopped(command: string, options: Record<string, unknown>): boolean {
  return STOPPABLE[command]?.(options) ?? false;
}

/** What `c360` exits with (src/cli/main.ts): printed by --help and in docs/reference.md. */
export const EXIT_CODES: ReadonlyArray<readonly [number, string]> = [
  [
    0,
    'done; a check (ledger, topics check, raw verify, schemas check, checks) found nothing wrong; or a long-running command (run, sink, collect, watch, connect, console, lag --serve, checks --serve, table maintain --every) stopped by SIGTERM or SIGINT',
  ],
  [
    1,
    'a check found something wrong (the ledger does not balance or records wait, topics drift, a file fails verification, a schema breaks compatibility), a dependency failed, or the command line is wrong',
  ],
  [2, 'a setting is wrong (an environment variable, or a value c360 validates): one sentence on stderr names it'],
];

/** Every production command, then those `extensions` add (bin/c360.js adds dev/cli's in a checkout). */
export function buildProgram(extensions: ReadonlyArray<(program: Command) => void> = []): Command {
  const program = new Command('c360')
    .description('c360-ingest: collect customer data from every source into Kafka, check it, and land it in the raw layer.')
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(c360 <command> --help shows the usage)')
    .addHelpText('after', `\nExit codes:\n${EXIT_CODES.map(([code, meaning]) => `  ${code}  ${meaning}`).join('\n')}`)
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
    if (runsUntilStopped(command.name(), command.opts())) deferSignals();
    else releaseSignals();
  });
  return program;
}
