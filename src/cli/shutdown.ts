/**
 * Graceful stop on SIGTERM and SIGINT for long-running commands. The handlers are in place before
 * the service starts: a worker told to stop while it is still joining its group (a pod replaced
 * during a rollout) stops cleanly instead of dying by the signal's default action. A stop that
 * arrives during start-up waits for the start to settle, then stops, then exits 0; one that
 * arrived while the command was still loading (src/cli/early-signals.ts) does the same.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../observability/logger.js';
import { stopTracing } from '../observability/tracing.js';
import { releaseSignals } from './early-signals.js';

/**
 * The stop every long-running command listens to: aborted by SIGTERM or SIGINT, or at once by one
 * that arrived while the command was loading (bin/c360.js trapped it).
 */
export function stopSignal(logger: Logger, what: string): AbortSignal {
  const abort = new AbortController();
  const handle = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) return;
    logger.info({ signal }, `stopping ${what}`);
    abort.abort(signal);
  };
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
  const early = releaseSignals();
  if (early) handle(early);
  return abort.signal;
}

/** Runs `tick`, then waits `intervalMs`, until the stop signal: the wait ends at once on it. */
export async function everyUntilStopped(signal: AbortSignal, intervalMs: number, tick: () => unknown): Promise<void> {
  while (!signal.aborted) {
    await tick();
    await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
  }
}

/** A service with a start and a stop: on the stop signal, it waits for the start to settle, stops, and exits 0. */
export function startStoppable<T>(logger: Logger, what: string, start: () => Promise<T>, stop: () => Promise<void>): Promise<T> {
  let starting: Promise<unknown> = Promise.resolve();
  const signal = stopSignal(logger, what);
  const onStop = () =>
    void starting
      .catch(() => undefined)
      .then(stop)
      .then(stopTracing)
      .then(() => process.exit(0));
  logger.info(`starting ${what}`);
  const started = start();
  starting = started;
  if (signal.aborted) onStop();
  else signal.addEventListener('abort', onStop, { once: true });
  return started;
}
