import type { StackPaths } from './paths.js';
import type { ManagedProcess } from './processes.js';

/** One service of the local stack. The generic up/down/status in stack/index.ts drives it. */
export interface StackPart {
  name: string;
  address: string;
  readyTimeoutMs: number;
  answers(): Promise<boolean>;
  /** Fetches and prepares what the process needs (idempotent, cached); returns the process to start. */
  prepare(paths: StackPaths): ManagedProcess;
  /** Runs, but started with other settings than this part asks for (the broker without `--secure`'s listeners): `stack up` restarts it. */
  outdated?(): Promise<boolean>;
  /** Runs once the part answers (after every start): set-up that needs it running. */
  afterReady?(paths: StackPaths): void;
}
