import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROCESS_ERROR_CODES, RECORD_ERROR_CODES } from '../src/contracts/errors.js';
import { projectRoot } from '../src/contracts/project.js';
import { REFERENCE_FILE, renderReference } from './reference.js';

// In the manner of fastify's test/internals/errors.test.js: the docs cannot drift from the code.
describe('the documentation matches the code', () => {
  it('docs/reference.md is what `npm run docs` generates', async () => {
    expect(fs.readFileSync(REFERENCE_FILE, 'utf8'), 'docs/reference.md is out of date: run npm run docs').toBe(await renderReference());
  });

  it('docs/contracts.md lists exactly the record error codes, one row each', () => {
    const contracts = fs.readFileSync(path.join(projectRoot(), 'docs', 'contracts.md'), 'utf8');
    const section = contracts.slice(contracts.indexOf('## Failure taxonomy'), contracts.indexOf('\n## ', contracts.indexOf('## Failure taxonomy') + 1));
    const listed = [...section.matchAll(/^\| `([a-z0-9_.]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(Object.keys(RECORD_ERROR_CODES).sort());
  });

  it('docs/contracts.md names every process error code', () => {
    const contracts = fs.readFileSync(path.join(projectRoot(), 'docs', 'contracts.md'), 'utf8');
    const section = contracts.slice(contracts.indexOf('## Process errors'), contracts.indexOf('\n## ', contracts.indexOf('## Process errors') + 1));
    const listed = [...section.matchAll(/^\| `([a-z_.<>-]+)` \|/gm)].map((m) => m[1]);
    const expected = new Set(Object.keys(PROCESS_ERROR_CODES).map((c) => c.replace(/^dependency\.[a-z-]+_/, 'dependency.<dependency>_')));
    expect(listed.sort()).toEqual([...expected].sort());
  });

  it('every file docs/contracts.md points at exists', () => {
    const contracts = fs.readFileSync(path.join(projectRoot(), 'docs', 'contracts.md'), 'utf8');
    const files = [...contracts.matchAll(/`((?:src|avro|topologies|dev|test)\/[\w./-]+\.(?:ts|avsc))`/g)].map((m) => m[1]!);
    expect(files.length).toBeGreaterThan(5);
    expect(files.filter((f) => !fs.existsSync(path.join(projectRoot(), f)))).toEqual([]);
  });
});
