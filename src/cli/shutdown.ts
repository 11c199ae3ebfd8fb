/**
 * Graceful stop on SIGTERM and SIGINT for long-running commands. The handlers are in place before
 * the service starts: a worker told to stop while it is still joining its group (a pod replaced
 * during a rollout) stops cleanly instead of dying by the signal's default action. A stop that
 * arrives during start-up waits for the start to settle, then stops, then exits 0.
 */
import type { Logger } from '../observability/logger.js';

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
  logger.info(`starting ${what}`);
  const started = start();
  starting = started;
  return started;
}
