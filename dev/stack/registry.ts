/** Apicurio Registry (Confluent-compatible API at /apis/ccompat/v7), in-memory storage, run from its Maven Central assembly. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PrerequisiteError } from '../../src/contracts/errors.js';
import { registryAnswers } from '../../src/observability/probes.js';
import { mavenFetch } from './maven.js';
import type { StackPart } from './part.js';
import type { StackPaths } from './paths.js';
import { requireCommand, requireJava } from './prerequisites.js';
import { APICURIO_VERSION, LOOPBACK, REGISTRY_PORT } from './versions.js';

export const REGISTRY_URL = `http://${LOOPBACK}:${REGISTRY_PORT}/apis/ccompat/v7`;

/** The assembly is a Quarkus fast-jar (quarkus-run.jar) from 3.1 on, a runner jar before. */
function launcherJar(dir: string): string {
  const jar = fs.readdirSync(dir).find((f) => f === 'quarkus-run.jar' || f.endsWith('-runner.jar'));
  if (!jar) throw new PrerequisiteError(`The Apicurio Registry assembly in ${dir} has no launcher jar: delete the folder and run \`c360 stack up\` again.`);
  return path.join(dir, jar);
}

/** The Apicurio assembly, fetched and unpacked once; returns its launcher jar. */
export function apicurioJar(paths: StackPaths): string {
  requireJava();
  const home = path.join(paths.cache, `apicurio-registry-${APICURIO_VERSION}`);
  if (!fs.existsSync(path.join(home, '.complete'))) {
    requireCommand('tar');
    const download = `${home}-download`;
    mavenFetch(download, 'copy', { artifact: `io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all` }, `Apicurio Registry ${APICURIO_VERSION}`);
    const archive = fs.readdirSync(download).find((f) => f.endsWith('.tar.gz'));
    const staging = `${home}.partial-${process.pid}`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(staging, { recursive: true });
    const untar = spawnSync('tar', ['xzf', path.join(download, archive ?? 'missing.tar.gz'), '-C', staging], { encoding: 'utf8' });
    if (untar.status !== 0) throw new PrerequisiteError(`Unpacking the Apicurio Registry assembly failed: ${untar.stderr.trim()}.`);
    fs.rmSync(download, { recursive: true, force: true });
    fs.rmSync(home, { recursive: true, force: true });
    fs.renameSync(staging, home);
    fs.writeFileSync(path.join(home, '.complete'), new Date().toISOString());
  }
  return launcherJar(home);
}

/** The JVM arguments of an in-memory Apicurio on loopback at `port`, with extra Quarkus or Apicurio settings (authentication, for the tests of it). */
export function apicurioArgs(jar: string, port: number, settings: Record<string, string> = {}, marker?: string): string[] {
  return [
    '-Xmx384m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    ...(marker ? [marker] : []),
    `-Dquarkus.http.host=${LOOPBACK}`,
    `-Dquarkus.http.port=${port}`,
    '-Dquarkus.log.level=WARN',
    '-Dquarkus.log.category."io.apicurio".level=INFO',
    ...Object.entries(settings).map(([k, v]) => `-D${k}=${v}`),
    '-jar',
    jar,
  ];
}

export const registryPart: StackPart = {
  name: 'registry',
  address: REGISTRY_URL,
  readyTimeoutMs: 120_000,
  answers: () => registryAnswers({ url: REGISTRY_URL }),
  prepare(paths: StackPaths) {
    const jar = apicurioJar(paths);
    const marker = `-Dc360.stack=${paths.state}`;
    return { name: 'registry', command: 'java', args: apicurioArgs(jar, REGISTRY_PORT, {}, marker), cwd: path.dirname(jar), marker };
  },
};
