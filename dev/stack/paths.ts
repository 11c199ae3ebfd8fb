/** Where the local stack keeps things: downloads in a cache folder, logs/pids/data in a state folder, both outside the repo. */
import path from 'node:path';

export interface StackPaths {
  /** Downloaded jars and assemblies, kept across `stack down` (the warm start). */
  cache: string;
  /** Logs, pid files, broker data. */
  state: string;
}

export function stackPaths(home: string): StackPaths {
  return { cache: path.join(home, 'cache'), state: path.join(home, 'stack') };
}
