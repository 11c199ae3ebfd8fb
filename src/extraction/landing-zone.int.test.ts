import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, testKafka } from '../../test/support/kafka.js';
import { testNamespace } from '../../test/support/topology.js';
import { spawnCli } from '../../test/support/worker.js';
import { HEADER } from '../contracts/lineage.js';
import { type TopicNames, topicNames } from '../contracts/topic-names.js';

const kafka = testKafka();
const fixtures = path.resolve('test/fixtures/files');

describe('c360 watch: a landing zone folder per source', () => {
  let root: string;
  let ns: string;
  let names: TopicNames;
  const watch = async (extra: string[] = [], env: Record<string, string> = {}) => {
    const w = spawnCli(['watch', root, '--once', '--quiet-seconds', '0', '--namespace', ns, ...extra], env);
    const exit = await w.exited;
    return { ...exit, out: w.stdout(), all: w.output() };
  };
  const list = (...parts: string[]) => (fs.existsSync(path.join(root, ...parts)) ? fs.readdirSync(path.join(root, ...parts)).sort() : []);

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-landing-'));
    ns = testNamespace();
    names = topicNames(ns);
    fs.mkdirSync(path.join(root, 'commerce'), { recursive: true });
    fs.mkdirSync(path.join(root, 'marketing'), { recursive: true });
  });

  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('takes complete files, leaves partial ones, archives what it ingested and rejects unreadable files with a reason', async () => {
    fs.copyFileSync(path.join(fixtures, 'commerce-orders.csv'), path.join(root, 'commerce', 'orders.csv'));
    fs.writeFileSync(path.join(root, 'commerce', 'next.csv.part'), 'still uploading');
    fs.writeFileSync(path.join(root, 'commerce', '.hidden.csv'), 'not for us');
    fs.writeFileSync(path.join(root, 'commerce', 'broken.csv.gz'), Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03]));
    fs.writeFileSync(path.join(root, 'commerce', 'notes.docx'), 'a word file');
    const run = await watch();
    expect(run.code, run.all).toBe(0);
    expect(run.out).toContain('commerce/orders.csv: ingested, 4 rows, 2 sent, 2 dead-lettered');
    expect(list('commerce')).toEqual(['.hidden.csv', 'next.csv.part']);
    const today = new Date().toISOString().slice(0, 10);
    expect(list('archive', 'commerce', today)).toEqual(['orders.csv']);
    expect(list('rejected', 'commerce')).toEqual(['broken.csv.gz', 'broken.csv.gz.reason.txt', 'notes.docx', 'notes.docx.reason.txt']);
    expect(fs.readFileSync(path.join(root, 'rejected', 'commerce', 'broken.csv.gz.reason.txt'), 'utf8')).toMatch(
      /^extract\.unreadable_file: broken\.csv\.gz is not a whole gzip file \(.+\); nothing of it was sent\./,
    );
    expect(fs.readFileSync(path.join(root, 'rejected', 'commerce', 'notes.docx.reason.txt'), 'utf8')).toMatch(
      /^config\.invalid: notes\.docx: cannot tell its format from "\.docx"/,
    );
    const sent = await collect(kafka, names.ingest('commerce'), (s) => s.length === 2);
    expect(sent.every((m) => m.headers![HEADER.sourceKind]!.toString() === 'upload')).toBe(true);
  });

  it('with --require-done, waits for the marker', async () => {
    fs.copyFileSync(path.join(fixtures, 'marketing-events.ndjson.gz'), path.join(root, 'marketing', 'events.ndjson.gz'));
    expect((await watch(['--require-done'])).out).toBe('');
    expect(list('marketing')).toEqual(['events.ndjson.gz']);
    fs.writeFileSync(path.join(root, 'marketing', 'events.ndjson.gz.done'), '');
    const done = await watch(['--require-done', '--json']);
    expect(
      done.out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      {
        source: 'marketing',
        name: 'events.ndjson.gz',
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        outcome: 'ingested',
        rows: 4,
        sent: 2,
        deadLettered: 2,
        unknownColumns: [],
        ms: expect.any(Number),
      },
    ]);
    expect(list('marketing')).toEqual([]);
  });

  it('resumes a file interrupted mid-way after a restart: nothing lost, nothing twice', async () => {
    const lines = ['transaction_id,channel,occurred_at,currency,total_amount'];
    for (let i = 1; i <= 5_000; i++) lines.push(`W-${i},POS,2026-11-21T12:00:00Z,EUR,${i}.00`);
    fs.writeFileSync(path.join(root, 'commerce', 'big.csv'), `${lines.join('\n')}\n`);
    const killed = await watch([], { C360_CRASH_AT: 'ingest-after-commit:2' });
    expect(killed.signal).toBe('SIGKILL');
    expect(list('processing', 'commerce')).toEqual(['big.csv']);
    const resumed = await watch();
    expect(resumed.out, resumed.all).toContain('commerce/big.csv: resumed, 1000 rows, 5000 sent, 0 dead-lettered');
    expect(list('processing', 'commerce')).toEqual([]);
    const sent = await collect(kafka, names.ingest('commerce'), (s) => s.length >= 5_002);
    const keys = sent.map((m) => m.key!.toString()).filter((k) => k.startsWith('W-'));
    expect(keys).toHaveLength(5_000);
    expect(new Set(keys).size).toBe(5_000);
  });

  it('reports the same bytes under another name as a duplicate, counted as one, and sends nothing', async () => {
    const orders = fs.readFileSync(path.join(fixtures, 'commerce-orders.csv'));
    fs.writeFileSync(path.join(root, 'commerce', 'orders-copy.csv'), orders);
    const run = await watch(['--ops-port', '0']);
    expect(run.code, run.all).toBe(0);
    expect(run.out.trim()).toMatch(
      /^commerce\/orders-copy\.csv: duplicate of orders\.csv \(the same bytes, sha256 [0-9a-f]{12}…, ingested \S+\): nothing sent; --force to ingest it again$/,
    );
  });

  it('follows nothing out of the zone: a symlinked source folder is refused, a symlinked file rejected as it is, the rest goes on', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-outside-'));
    try {
      fs.writeFileSync(path.join(outside, 'secrets.csv'), 'not,for,us\n');
      fs.symlinkSync(outside, path.join(root, 'crm'));
      fs.symlinkSync(path.join(outside, 'secrets.csv'), path.join(root, 'commerce', 'linked.csv'));
      fs.copyFileSync(path.join(fixtures, 'marketing-events.ndjson.gz'), path.join(root, 'marketing', 'events-2.ndjson.gz'));
      const run = await watch();
      expect(run.code).toBe(1);
      expect(run.all).toMatch(
        new RegExp(
          `^crm: left to retry: ${path.join(root, 'crm').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a symbolic link: c360 watch follows nothing out of the landing zone`,
          'm',
        ),
      );
      expect(run.out).toContain('commerce/linked.csv: rejected: linked.csv is a symbolic link: c360 watch follows nothing out of the landing zone');
      expect(run.out).toMatch(/^marketing\/events-2\.ndjson\.gz: duplicate of events\.ndjson\.gz /m);
      // What the links point at is where it was, unread and unmoved.
      expect(fs.readdirSync(outside)).toEqual(['secrets.csv']);
      expect(fs.readFileSync(path.join(outside, 'secrets.csv'), 'utf8')).toBe('not,for,us\n');
      expect(fs.lstatSync(path.join(root, 'rejected', 'commerce', 'linked.csv')).isSymbolicLink()).toBe(true);
    } finally {
      fs.rmSync(path.join(root, 'crm'), { force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a file it may not read is tried a bounded number of times, then rejected with the reason', async () => {
    const locked = path.join(root, 'commerce', 'locked.csv');
    fs.copyFileSync(path.join(fixtures, 'commerce-orders.csv'), locked);
    fs.chmodSync(locked, 0o000);
    // Root reads any file: the watcher runs without the capabilities that let it, as an unprivileged pod would.
    const w = spawnCli(['watch', root, '--once', '--quiet-seconds', '0', '--namespace', ns], {}, [
      'setpriv',
      '--bounding-set',
      '-dac_override,-dac_read_search',
      '--inh-caps',
      '-dac_override,-dac_read_search',
    ]);
    const exit = await w.exited;
    expect(exit.code, w.output()).toBe(0);
    expect(w.stdout()).toContain(
      `commerce/locked.csv: rejected: locked.csv cannot be read: EACCES: permission denied, open '${path.join(root, 'processing', 'commerce', 'locked.csv')}' (after 3 tries)`,
    );
    expect(list('rejected', 'commerce')).toContain('locked.csv');
    expect(list('processing', 'commerce')).toEqual([]);
  });
});
