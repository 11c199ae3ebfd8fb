// A sink whose disk fills up: the raw layer (and the spool beside it) on a small tmpfs, filled to
// the last byte while records arrive. A full disk is not the records' fault: none is set aside
// into quarantine, the sink waits and says so in /readyz, and once space is freed every record
// lands once. A real `c360 sink` process, a real filesystem that answers ENOSPC.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, testKafka } from '../../test/support/kafka.js';
import { rawLayer } from '../../test/support/raw-layer.js';
import { produce, rawCrmTopic } from '../../test/support/topology.js';
import { opsUrl, spawnSink, type Worker } from '../../test/support/worker.js';

const kafka = testKafka();

/** Fills the filesystem of `dir` to its last byte; returns the filler's path. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  // What is left is smaller than a chunk: take it byte by byte.
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(1));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

describe('a sink whose disk is full', () => {
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-full-'));
  let sink: Worker | undefined;
  beforeAll(() => {
    // Needs root (CI and this machine run tests as root): the test fails, never skips, where it cannot mount.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]);
  });
  afterAll(async () => {
    sink?.child.kill('SIGKILL');
    if (sink) await sink.exited;
    execFileSync('umount', ['-l', mount]);
    fs.rmSync(mount, { recursive: true, force: true });
  });

  it('quarantines nothing, waits and says so in /readyz, and lands every record once space is freed', async () => {
    const { namespace: ns, topic: raw, messages: records } = await rawCrmTopic(kafka);
    const layer = path.join(mount, 'layer');
    sink = spawnSink(ns, layer, { LOG_LEVEL: 'info' }, ['--max-records', '50', '--row-group-rows', '10', '--idle-flush-ms', '300']);
    await produce(kafka, raw, records(0, 100));
    expect(
      (
        await eventually(
          () => rawLayer(layer),
          (l) => l.rows >= 100,
        )
      ).rows,
    ).toBe(100);

    const filler = fill(mount);
    await produce(kafka, raw, records(100, 400));
    const readyz = async () => {
      const r = await fetch(`${opsUrl(sink!)}/readyz`);
      return { status: r.status, failures: ((await r.json()) as { failures?: Array<{ check: string; error: string }> }).failures ?? [] };
    };
    const unready = await eventually(readyz, (r) => r.failures.some((f) => f.check === 'dependencies'), 30_000);
    expect(unready.status).toBe(503);
    expect(unready.failures.find((f) => f.check === 'dependencies')!.error).toMatch(/on (disk|object-store) .*ENOSPC/);
    expect(sink.output()).toMatch(/"msg":"waiting for a dependency"/);

    fs.rmSync(filler);
    const landed = await eventually(
      () => rawLayer(layer),
      (l) => l.rows >= 500,
      60_000,
    );
    expect(landed).toEqual({ rows: 500, ingestIds: 500 });
    expect(fs.existsSync(path.join(layer, 'quarantine'))).toBe(false);
    expect(sink.output()).not.toContain('record set aside into quarantine');
    expect((await eventually(readyz, (r) => r.status === 200, 30_000)).status).toBe(200);
  });
});
