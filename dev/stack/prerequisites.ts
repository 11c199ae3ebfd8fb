/** Checks for the tools the local stack runs on, each failure one sentence saying what is missing and how to get it. */
import { spawnSync } from 'node:child_process';
import { PrerequisiteError } from '../../src/contracts/errors.js';

const HOW_TO_GET: Record<string, string> = {
  java: 'install a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless)',
  mvn: 'install Apache Maven (Debian: apt-get install maven)',
  tar: 'install tar (Debian: apt-get install tar)',
  'redis-server': 'install Redis (Debian: apt-get install redis-server) or point REDIS_URL at a running server',
};

export function requireCommand(command: keyof typeof HOW_TO_GET & string, versionArgs: string[] = ['--version']): void {
  const result = spawnSync(command, versionArgs, { stdio: 'ignore' });
  if (result.error) {
    throw new PrerequisiteError(`\`${command}\` was not found on PATH: ${HOW_TO_GET[command]}.`);
  }
}

/** Java must be 17 or newer: Kafka 4 brokers and Apicurio 3 need it. */
export function requireJava(): void {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error) throw new PrerequisiteError(`\`java\` was not found on PATH: ${HOW_TO_GET.java}.`);
  const match = /version "(\d+)/.exec(`${result.stderr}${result.stdout}`);
  const major = match ? Number(match[1]) : 0;
  if (major < 17) {
    throw new PrerequisiteError(`Java ${major || 'of an unknown version'} is on PATH but the stack needs Java 17 or newer: ${HOW_TO_GET.java}.`);
  }
}
