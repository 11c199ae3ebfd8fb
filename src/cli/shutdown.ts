/**
 * Graceful stop on SIGTERM and SIGINT for long-running commands. The handlers are in place before
 * the service starts: a worker told to stop while it is still joining its group (a pod replaced
 * during a rollout) stops cleanly instead of dying by the signal's default action. A stop that
 * arrives during start-up waits for the start to settle, then stops, then exits 0.
 */
export function startStoppable<T>(start: () => Promise<T>, stop: (signal: NodeJS.Signals) => Promise<void>): Promise<T> {
  let starting: Promise<unknown> = Promise.resolve();
  const handle = (signal: NodeJS.Signals) => {
    void starting
      .catch(() => undefined)
      .then(() => stop(signal))
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
  const started = start();
  starting = started;
  return started;
}
