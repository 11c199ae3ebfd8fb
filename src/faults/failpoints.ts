/**
 * Crash points for the crash tests of topology workers, sink workers, file ingests,
 * connectors and the collector: `C360_CRASH_AT=<point>:<n>` makes the process SIGKILL itself the n-th time it
 * reaches <point>, so a test can kill it at an exact place in its commit cycle as well as at
 * random times. Unset in production: one string comparison per batch.
 */
export type CrashPoint =
  | 'after-stages'
  | 'after-send'
  | 'after-commit'
  // Sink workers: mid-file, between a file's upload and its table commit, between a file's publish and its manifest entry, and before the offset commit.
  | 'sink-append'
  | 'sink-before-table-commit'
  | 'sink-after-publish'
  | 'sink-before-commit'
  // Extraction: after a file batch or connector page is committed with its checkpoint.
  | 'ingest-after-commit'
  | 'connector-after-commit'
  // The collector: Kafka has acknowledged a request's events, its answer not yet sent (the client will send them again).
  | 'collector-after-ack';

const spec = process.env.C360_CRASH_AT?.split(':');
const target = spec?.[0];
let remaining = Number(spec?.[1] ?? 1);

export function crashPoint(point: CrashPoint): void {
  if (target !== point) return;
  remaining -= 1;
  if (remaining === 0) process.kill(process.pid, 'SIGKILL');
}
