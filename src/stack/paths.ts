/** Where the local stack keeps things: downloads in a cache folder, logs/pids/data in a state folder, both outside the repo. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StackPaths {
  /** Downloaded jars and assemblies, kept across `stack down` (the warm start). */
  cache: string;
  /** Logs, pid files, broker data. */
  state: string;
}

export function stackPaths(home: string): StackPaths {
  return { cache: path.join(home, 'cache'), state: path.join(home, 'stack') };
}

/** The project folder (the one holding package.json), whether running from src/ under vitest or from dist/. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('could not find the c360-ingest project folder');
    dir = parent;
  }
  return dir;
}
