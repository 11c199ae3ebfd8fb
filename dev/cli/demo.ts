import type { Command } from 'commander';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { runDemo } from '../demo/demo.js';

export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description(
      'Run the whole flow on the bundled samples: start the local stack if needed, ingest files, events and an API, check, land, and reconcile. Exit 0 only if the ledger balances.',
    )
    .action(async () => {
      const config = loadConfig();
      // Only warnings: the demo prints its own story.
      const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
      const result = await runDemo(config, logger, (line) => console.log(line));
      process.exit(result.ok ? 0 : 1);
    });
}
