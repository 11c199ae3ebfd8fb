/** The `c360` entry point: errors end as one sentence on stderr, not a stack trace (exit 2 for configuration, 1 otherwise). */
import { type Command, CommanderError } from 'commander';
import { C360Error, ConfigError, kafkaFailureSentence } from '../contracts/errors.js';
import { buildProgram } from './program.js';

export async function runCli(extensions: ReadonlyArray<(program: Command) => void> = []): Promise<void> {
  // A reader that has read enough (`c360 raw read | head`) closes the pipe: the command ends there, as Unix tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  try {
    await buildProgram(extensions).parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    if (err instanceof C360Error) {
      process.stderr.write(`c360: ${err.message}\n`);
      process.exit(err instanceof ConfigError ? 2 : 1);
    }
    // KafkaJS's own errors (a refused TLS handshake or SASL login, after its retries) are one sentence too, never a stack trace.
    const kafka = kafkaFailureSentence(err);
    if (kafka) {
      process.stderr.write(`c360: ${kafka}\n`);
      process.exit(1);
    }
    unexpected(err);
  }
}

/**
 * What no classification foresaw still ends as one line and exit 1; its stack, which only a
 * developer needs, is printed at LOG_LEVEL=debug or trace.
 */
function unexpected(err: unknown): never {
  const debug = process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace';
  const first = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).split('\n', 1)[0];
  process.stderr.write(`c360: unexpected error: ${first}${debug && err instanceof Error ? `\n${err.stack}` : ' (LOG_LEVEL=debug shows where)'}\n`);
  process.exit(1);
}
