/** Fetches artifacts from Maven Central into the stack's cache folder, once; a failed fetch leaves nothing half-written. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PrerequisiteError } from '../../src/contracts/errors.js';
import { projectRoot } from '../../src/contracts/project.js';
import { requireCommand } from './prerequisites.js';

/**
 * Runs a maven-dependency-plugin goal against a pom under stack/ (stack/pom.xml unless `pom` names
 * another), writing into a temporary folder renamed to `target` on success.
 */
export function mavenFetch(target: string, goal: string, properties: Record<string, string>, what: string, pom = 'pom.xml'): void {
  if (fs.existsSync(path.join(target, '.complete'))) return;
  requireCommand('mvn');
  const staging = `${target}.partial-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const args = ['-q', '-B', '-f', path.join(projectRoot(), 'stack', pom), `dependency:${goal}`, `-DoutputDirectory=${staging}`];
  for (const [key, value] of Object.entries(properties)) args.push(`-D${key}=${value}`);
  const result = spawnSync('mvn', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    fs.rmSync(staging, { recursive: true, force: true });
    const output = `${result.stdout}${result.stderr}`;
    const offline = /Could not transfer|Unknown host|Connection refused|timed out|Network is unreachable|Could not resolve/i.test(output);
    const reason = offline
      ? 'Maven Central could not be reached (check the network or the proxy in ~/.m2/settings.xml)'
      : `Maven failed: ${
          output
            .split('\n')
            .find((l) => l.includes('ERROR'))
            // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the ANSI colour codes mvn prints.
            ?.replace(/\u001b\[[0-9;]*m/g, '')
            .trim() ?? 'see mvn output'
        }`;
    throw new PrerequisiteError(`Could not fetch ${what}: ${reason}.`);
  }
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(staging, target);
  fs.writeFileSync(path.join(target, '.complete'), new Date().toISOString());
}
