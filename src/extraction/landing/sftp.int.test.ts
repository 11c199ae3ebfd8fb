// Vendors' SFTP uploads into the landing zone, through the stack's real OpenSSH server
// (`c360 stack up --sftp`: a chrooted SFTP-only user) with a real SFTP client: a complete file
// lands exactly once, and a file still being written in place, or uploaded as .part and renamed
// when done, is never taken early.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaMessage } from 'kafkajs';
import SftpClient from 'ssh2-sftp-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackPaths } from '../../../dev/stack/paths.js';
import { sftpPaths } from '../../../dev/stack/sftp.js';
import { LOOPBACK, SFTP_PORT, SFTP_USER } from '../../../dev/stack/versions.js';
import { collect, config, testKafka } from '../../../test/support/kafka.js';
import { testNamespace } from '../../../test/support/topology.js';
import { spawnCli } from '../../../test/support/worker.js';
import { topicNames } from '../../contracts/topic-names.js';

const kafka = testKafka();
const fixtures = path.resolve('test/fixtures/files');
const drop = sftpPaths(stackPaths(config.home));

describe('an SFTP drop into the landing zone (OpenSSH, chrooted SFTP-only user)', () => {
  const ns = testNamespace();
  const names = topicNames(ns);
  // Each run has its own zone inside the user's landing folder, so runs never see each other's files.
  const zone = path.join(drop.landing, ns);
  const sftp = new SftpClient();
  const keysOf = async (prefix: string, n: number) => {
    const starting = (s: KafkaMessage[]) => s.map((m) => m.key!.toString()).filter((k) => k.startsWith(`${prefix}-`));
    return starting(await collect(kafka, names.ingest('commerce'), (s) => starting(s).length >= n));
  };
  const watch = async (quietSeconds: number) => {
    const w = spawnCli(['watch', zone, '--once', '--quiet-seconds', String(quietSeconds), '--namespace', ns]);
    const exit = await w.exited;
    expect(exit.code, w.output()).toBe(0);
    return w.stdout();
  };
  const csv = (prefix: string, n: number) =>
    `transaction_id,channel,occurred_at,currency,total_amount\n${Array.from({ length: n }, (_, i) => `${prefix}-${i + 1},POS,2026-11-21T12:00:00Z,EUR,${i + 1}.00\n`).join('')}`;

  beforeAll(async () => {
    await sftp.connect({ host: LOOPBACK, port: SFTP_PORT, username: SFTP_USER, privateKey: fs.readFileSync(drop.clientKey) });
    // The user is chrooted: its landing folder is /landing.
    await sftp.mkdir(`/landing/${ns}/commerce`, true);
  });
  afterAll(async () => {
    await sftp.end();
    fs.rmSync(zone, { recursive: true, force: true });
  });

  it('cannot leave its chroot: the server root it sees is the chroot, holding only the landing folder', async () => {
    expect((await sftp.list('/')).map((e) => e.name)).toEqual(['landing']);
    await expect(sftp.put(Buffer.from('x'), '/escape.csv')).rejects.toThrow(/Permission denied/);
  });

  it('lands a complete upload exactly once', async () => {
    await sftp.put(fs.readFileSync(path.join(fixtures, 'commerce-orders.csv')), `/landing/${ns}/commerce/orders.csv`);
    await sleep(1_100);
    expect(await watch(1)).toContain('commerce/orders.csv: ingested, 4 rows, 2 sent, 2 dead-lettered');
    expect(await watch(1)).toBe('');
    expect(fs.readdirSync(path.join(zone, 'commerce'))).toEqual([]);
    expect(fs.readdirSync(path.join(zone, 'archive', 'commerce', new Date().toISOString().slice(0, 10)))).toEqual(['orders.csv']);
    const sent = await collect(kafka, names.ingest('commerce'), (s) => s.length === 2);
    expect(sent).toHaveLength(2);
  });

  it('never takes a file still being written in place, and takes it whole once it is quiet', async () => {
    const body = csv('L', 3_000);
    const half = body.lastIndexOf('\n', body.length / 2) + 1;
    const stream = sftp.createWriteStream(`/landing/${ns}/commerce/live.csv`);
    await new Promise<void>((resolve, reject) => stream.write(body.slice(0, half), (err) => (err ? reject(err) : resolve())));
    // Written a moment ago and still open: inside its quiet period.
    expect(await watch(3)).toBe('');
    expect(fs.readdirSync(path.join(zone, 'commerce'))).toEqual(['live.csv']);
    await new Promise<void>((resolve, reject) => {
      stream.on('close', resolve);
      stream.on('error', reject);
      stream.end(body.slice(half));
    });
    await sleep(3_100);
    expect(await watch(3)).toContain('commerce/live.csv: ingested, 3000 rows, 3000 sent, 0 dead-lettered');
    const keys = await keysOf('L', 3_000);
    expect(keys).toHaveLength(3_000);
    expect(new Set(keys).size).toBe(3_000);
  });

  it('never takes an upload named .part, and takes it once renamed into place', async () => {
    await sftp.put(Buffer.from(csv('P', 50)), `/landing/${ns}/commerce/batch.csv.part`);
    expect(await watch(0)).toBe('');
    await sftp.rename(`/landing/${ns}/commerce/batch.csv.part`, `/landing/${ns}/commerce/batch.csv`);
    expect(await watch(0)).toContain('commerce/batch.csv: ingested, 50 rows, 50 sent, 0 dead-lettered');
    expect(new Set(await keysOf('P', 50)).size).toBe(50);
  });
});
