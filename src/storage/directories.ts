/** Making local folders, with every loop bounded. */
import fs from 'node:fs';
import path from 'node:path';

/**
 * `mkdir -p`, one level at a time from the deepest folder that exists. Node's own recursive
 * `mkdirSync` spins for ever where a parent exists but refuses a child with ENOENT (procfs and
 * sysfs do); this makes at most one call per missing level and throws what the filesystem says.
 */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
