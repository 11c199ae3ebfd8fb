import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { PrerequisiteError } from '../../src/contracts/errors.js';
import { runCli } from '../../test/support/worker.js';
import { stackStatus } from './index.js';
import { requireCommand, requireJava } from './prerequisites.js';

describe('local stack', () => {
  it('reports every part answering at its loopback address once up (the global setup brought it up)', async () => {
    // The three-broker cluster's nodes follow when it runs too (`stack up --brokers 3`).
    const statuses = (await stackStatus(loadConfig().home)).filter((s) => !s.name.startsWith('kafka-'));
    expect(statuses.map((s) => [s.name, s.address])).toEqual([
      ['redis', 'redis://127.0.0.1:6379'],
      ['kafka', '127.0.0.1:9092'],
      ['registry', 'http://127.0.0.1:8081/apis/ccompat/v7'],
      ['s3', 'http://127.0.0.1:9090'],
      ['catalog', 'http://127.0.0.1:8181'],
    ]);
    for (const s of statuses) expect(s.state).toMatch(/^running/);
  });

  it('prints the same as one JSON document with `stack status --json`', async () => {
    const run = await runCli(['stack', 'status', '--json']);
    expect(run.code, run.output).toBe(0);
    const { parts } = JSON.parse(run.stdout) as { parts: Array<{ name: string; address: string; state: string }> };
    expect(parts.find((p) => p.name === 'catalog')).toMatchObject({ address: 'http://127.0.0.1:8181', state: expect.stringMatching(/^running/) });
    expect(parts.map((p) => p.name)).toEqual((await stackStatus(loadConfig().home)).map((s) => s.name));
  });

  it('names a missing prerequisite and how to get it in one sentence', () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(() => requireJava()).toThrow(PrerequisiteError);
      expect(() => requireJava()).toThrow(/^`java` was not found on PATH: install a Java 17 runtime \(Debian: apt-get install openjdk-17-jre-headless\)\.$/);
      expect(() => requireCommand('mvn')).toThrow(/^`mvn` was not found on PATH: install Apache Maven/);
      expect(() => requireCommand('redis-server')).toThrow(/^`redis-server` was not found on PATH/);
    } finally {
      process.env.PATH = path;
    }
  });
});
