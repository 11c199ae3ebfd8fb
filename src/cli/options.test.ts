import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CommanderError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram, runsUntilStopped } from './program.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-cli-'));
const file = path.join(dir, 'data.csv');
fs.writeFileSync(file, 'id\n1\n');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Parses a command line as `c360` would, up to (not into) its action: the first error it reports, or undefined. */
async function firstError(args: string[]): Promise<string | undefined> {
  const errors: string[] = [];
  const program = buildProgram();
  const quiet = (cmd: typeof program) => {
    cmd.configureOutput({ writeErr: (s) => void errors.push(s), writeOut: () => undefined });
    // Parsing is what is under test: no action runs, so nothing needs a service.
    cmd.hook('preAction', () => {
      throw new CommanderError(0, 'parsed', 'parsed');
    });
    for (const sub of cmd.commands) quiet(sub);
  };
  quiet(program);
  try {
    await program.parseAsync(['node', 'c360', ...args]);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === 'parsed') return undefined;
    return errors[0]?.split('\n')[0];
  }
  return undefined;
}

describe('every CLI flag is validated, with one sentence naming it', () => {
  it.each([
    [['ingest', file, '--source', 'crm', '--batch-rows', 'abc'], "error: option '--batch-rows <n>' argument 'abc' is invalid. Must be a whole number."],
    [['ingest', file, '--source', 'crm', '--batch-rows', '0'], "error: option '--batch-rows <n>' argument '0' is invalid. Must be 1 or more."],
    [['ingest', file, '--source', 'crm', '--batch-rows', '1.5'], "error: option '--batch-rows <n>' argument '1.5' is invalid. Must be a whole number."],
    [
      ['ingest', path.join(dir, 'missing.csv'), '--source', 'crm'],
      `error: command-argument value '${path.join(dir, 'missing.csv')}' is invalid for argument 'path'. No file or folder ${path.join(dir, 'missing.csv')} exists.`,
    ],
    [['ingest', file, '--source', 'crm', '--mapping', dir], `error: option '-m, --mapping <file>' argument '${dir}' is invalid. ${dir} is not a file.`],
    [['ingest', file], "error: required option '-s, --source <source>' not specified"],
    [['run', '--session-timeout', '-5'], "error: option '--session-timeout <ms>' argument '-5' is invalid. Must be 1000 or more."],
    [['run', '--ops-port', '70000'], "error: option '--ops-port <port>' argument '70000' is invalid. Must be 65535 or less."],
    [['run', '--max-batch-bytes', '4MB'], "error: option '--max-batch-bytes <bytes>' argument '4MB' is invalid. Must be a whole number."],
    [['sink', '--max-records', 'many'], "error: option '--max-records <n>' argument 'many' is invalid. Must be a whole number."],
    [['sink', '--idle-flush-ms', '0'], "error: option '--idle-flush-ms <ms>' argument '0' is invalid. Must be 1 or more."],
    [['watch', file], `error: command-argument value '${file}' is invalid for argument 'zone'. ${file} is not a folder.`],
    [['watch', dir, '--poll', 'often'], "error: option '--poll <ms>' argument 'often' is invalid. Must be a whole number."],
    [
      ['connect', '--config', path.join(dir, 'nope.json')],
      `error: option '-c, --config <file>' argument '${path.join(dir, 'nope.json')}' is invalid. No file ${path.join(dir, 'nope.json')} exists.`,
    ],
    [['connect', '--config', file, '--interval', '-1'], "error: option '--interval <ms>' argument '-1' is invalid. Must be 1 or more."],
    [['collect', '--config', file, '--port', 'http'], "error: option '-p, --port <port>' argument 'http' is invalid. Must be a whole number."],
    [['quarantine', 'ls', '--date', '2026-02-30'], "error: option '--date <YYYY-MM-DD>' argument '2026-02-30' is invalid. Must be a date in YYYY-MM-DD form."],
    [
      ['quarantine', 'ls', '--date', '2026-11-27,27/11/2026'],
      "error: option '--date <YYYY-MM-DD>' argument '2026-11-27,27/11/2026' is invalid. Must be a date in YYYY-MM-DD form.",
    ],
    [['quarantine', 'show', '--limit', '-3'], "error: option '--limit <n>' argument '-3' is invalid. Must be 1 or more."],
    [['quarantine', 'ls', '--storage', file], `error: option '--storage <url>' argument '${file}' is invalid. ${file} is not a folder.`],
    [
      ['raw', 'verify', '--storage', path.join(dir, 'gone')],
      `error: option '--storage <url>' argument '${path.join(dir, 'gone')}' is invalid. No folder ${path.join(dir, 'gone')} exists.`,
    ],
    [['raw', 'verify', '--date', '2026-13-01'], "error: option '--date <YYYY-MM-DD>' argument '2026-13-01' is invalid. Must be a date in YYYY-MM-DD form."],
    [['nonsense'], "error: unknown command 'nonsense'"],
  ])('c360 %j', async (args, message) => {
    expect(await firstError(args)).toBe(message);
  });

  it.each([
    [['ingest', file, '--source', 'crm', '--batch-rows', '500']],
    [['ingest', dir, '--source', 'crm']],
    [['quarantine', 'ls', '--date', '2026-11-27,2024-02-29', '--storage', dir]],
    [['raw', 'verify', '--storage', 's3://bucket/prefix']],
    [['sink', '--max-records', '1000', '--ops-port', '0']],
  ])('accepts c360 %j', async (args) => {
    expect(await firstError(args)).toBeUndefined();
  });
});

describe('c360 --help', () => {
  it('lists every exit code c360 ends with', () => {
    let out = '';
    const program = buildProgram().configureOutput({ writeOut: (s) => void (out += s) });
    expect(() => program.parse(['node', 'c360', '--help'])).toThrow(CommanderError);
    expect(out).toMatch(/^Exit codes:\n {2}0 {2}done.*\n {2}1 {2}a check found something wrong.*\n {2}2 {2}a setting is wrong/m);
  });
});

describe('which commands run until SIGTERM', () => {
  it('are the workers always, and lag and table maintain only when they serve or repeat', () => {
    for (const name of ['run', 'sink', 'collect', 'watch', 'connect']) expect(runsUntilStopped(name, {}), name).toBe(true);
    expect(runsUntilStopped('lag', { serve: true })).toBe(true);
    expect(runsUntilStopped('lag', {})).toBe(false);
    expect(runsUntilStopped('maintain', { every: 60 })).toBe(true);
    expect(runsUntilStopped('maintain', {})).toBe(false);
    expect(runsUntilStopped('ledger', {})).toBe(false);
  });
});
