/** Finds a topology by name (topologies/<name>) or path (.js or .json) and validates it. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.js';
import { repoRoot } from '../stack/paths.js';
import { validateTopology, type Topology } from './definition.js';

export async function loadTopology(ref: string, overrides: { namespace?: string } = {}): Promise<Topology> {
  let file: string;
  if (/[/\\]|\.(json|js|mjs)$/.test(ref)) {
    file = path.resolve(ref);
  } else {
    // Compiled topologies live in dist/ beside the compiled code; under vitest the .ts source is imported directly.
    const compiled = fileURLToPath(import.meta.url).includes(`${path.sep}dist${path.sep}`);
    file = path.join(repoRoot(), ...(compiled ? ['dist', 'topologies', `${ref}.js`] : ['topologies', `${ref}.ts`]));
  }
  if (!fs.existsSync(file)) throw new ConfigError(`topology "${ref}" was not found (looked for ${file}).`);
  let input: unknown;
  if (file.endsWith('.json')) {
    try {
      input = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`topology file ${file} is not valid JSON: ${(err as Error).message}.`);
    }
  } else {
    input = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
  }
  return validateTopology(input, overrides);
}
