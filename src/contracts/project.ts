/** Where the project's own files are (avro/, topologies/, bin/) and which version is running. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project folder (the one holding package.json), whether running from src/ under vitest or from dist/. */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('could not find the c360-ingest project folder');
    dir = parent;
  }
  return dir;
}

/** package.json's version: what `c360 --version` prints and every dead letter and manifest records. */
export const VERSION = (JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;

/** The writer named in dead letters and manifests. */
export const PROCESSOR_VERSION = `c360-ingest/${VERSION}`;
