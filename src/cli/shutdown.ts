/**
 * Graceful stop on SIGTERM and SIGINT for long-running commands. The handlers are in place before
 * the service starts: a worker told to stop while it is still joining its group (a pod replaced
 * during a rollout) stops cleanly instead of dying by the signal's default action. A stop that
 * arrives during start-up waits for the start to settle, then stops, then exits 0; one that
 * arrived while the command was still loading (src/cli/early-signals.ts) does the same.
 */
import type { Logger } from '../observability/logger.js';
import { releaseSignals } from './early-signals.js';

export function startStoppable<T>(logger: Logger, what: string, start: () => Promise<T>, stop: () => Promise<void>): Promise<T> {
  let starting: Promise<unknown> = Promise.resolve();
  const handle = (signal: NodeJS.Signals) => {
    logger.info({ signal }, `stopping ${what}`);
    void starting
      .catch(() => undefined)
      .then(stop)
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
  // A signal that came while the command was loading (bin/c360.js trapped it) stops it now.
  const early = releaseSignals();
  logger.info(`starting ${what}`);
  const started = start();
  starting = started;
  if (early) handle(early);
  return started;
}
