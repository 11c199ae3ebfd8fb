/**
 * SIGTERM and SIGINT from the moment the process starts. Loading the CLI (its modules, the
 * topology) takes a while, and a pod is often told to stop during it; the default action would
 * kill it by the signal. bin/c360.js traps the signals first thing: before a command runs, a
 * signal ends the process with 0 (nothing has started); a long-running command defers them and
 * takes the pending one when its graceful stop is in place; a one-shot command gets the default
 * behaviour back. This module imports nothing, so trapping costs no load time.
 */
let pending: NodeJS.Signals | undefined;
let deferred = false;

const onSignal = (signal: NodeJS.Signals): void => {
  if (!deferred) process.exit(0);
  pending = signal;
};

export function trapSignals(): void {
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** A long-running command will install its graceful stop: keep a signal that arrives meanwhile for it. */
export function deferSignals(): void {
  deferred = true;
}

/** Hands the signals back (their default action, or the caller's own handlers) and returns one that arrived while deferred. */
export function releaseSignals(): NodeJS.Signals | undefined {
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  const signal = pending;
  pending = undefined;
  return signal;
}
