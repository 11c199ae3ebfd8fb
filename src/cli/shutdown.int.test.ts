import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testNamespace } from '../../test/support/topology.js';
import { spawnCli, spawnSink, spawnWorker, type Worker } from '../../test/support/worker.js';

/** Resolves once the worker has logged `line` (at info level). */
async function waitForLine(worker: Worker, line: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!worker.output().includes(line)) {
    if (Date.now() > deadline) throw new Error(`no "${line}" within ${timeoutMs} ms:\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Resolves once the launcher has re-executed Node with its heap flags and the new process has spent
 * `cpuMs` of CPU: past Node's boot and the launcher's early trap (well under 150 ms of CPU), and long
 * before the CLI has loaded (over a second of CPU). CPU time, not wall time: a loaded machine
 * stretches the wall clock of every step alike, and a fixed delay would race the re-exec there.
 */
async function loadingTheCli(worker: Worker, cpuMs = 300, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const past = () => {
    try {
      if (!fs.readFileSync(`/proc/${worker.child.pid}/cmdline`, 'utf8').includes('--max-old-space-size')) return false;
      // utime and stime, the 14th and 15th fields, in clock ticks of 10 ms.
      const fields = fs.readFileSync(`/proc/${worker.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10 >= cpuMs;
    } catch {
      return false;
    }
  };
  while (!past()) {
    if (Date.now() > deadline) throw new Error(`the CLI did not start loading within ${timeoutMs} ms:\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

// A pod replaced during a rollout gets SIGTERM whenever it comes, often while still joining its group.
describe('SIGTERM while a worker is still starting', () => {
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-shutdown-'));
  afterAll(() => fs.rmSync(storage, { recursive: true, force: true }));

  it('a sink worker finishes starting, stops cleanly and exits 0', async () => {
    const worker = spawnSink(testNamespace(), storage, { LOG_LEVEL: 'info' });
    await waitForLine(worker, 'starting sink worker');
    worker.child.kill('SIGTERM');
    const { code, signal } = await worker.exited;
    expect({ code, signal }, worker.output()).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('stopping sink worker');
  });

  it('a topology worker finishes starting, stops cleanly, prints its ledger and exits 0', async () => {
    const worker = spawnWorker(testNamespace(), { LOG_LEVEL: 'info' });
    await waitForLine(worker, 'starting topology worker');
    worker.child.kill('SIGTERM');
    const { code, signal } = await worker.exited;
    expect({ code, signal }, worker.output()).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('stopping topology worker');
  });

  it('a worker told to stop while the CLI is still loading exits 0, not by the signal', async () => {
    const worker = spawnSink(testNamespace(), storage, { LOG_LEVEL: 'info' });
    // Long before the sink's own handlers exist: node has booted, the CLI's modules are still loading.
    await loadingTheCli(worker);
    expect(worker.output()).not.toContain('starting sink worker');
    worker.child.kill('SIGTERM');
    const { code, signal } = await worker.exited;
    expect({ code, signal }, worker.output()).toEqual({ code: 0, signal: null });
  });

  it('a landing-zone watcher stops the same way: told while loading, or once watching, it exits 0 and says so', async () => {
    const zone = fs.mkdtempSync(path.join(storage, 'zone-'));
    const watch = () => spawnCli(['watch', zone, '--namespace', testNamespace(), '--ops-port', '0', '--poll', '200'], { LOG_LEVEL: 'info' });
    const loading = watch();
    await loadingTheCli(loading);
    loading.child.kill('SIGTERM');
    expect(await loading.exited, loading.output()).toMatchObject({ code: 0, signal: null });

    const watching = watch();
    await waitForLine(watching, 'ops endpoint listening');
    watching.child.kill('SIGTERM');
    expect(await watching.exited, watching.output()).toMatchObject({ code: 0, signal: null });
    expect(watching.output()).toContain('stopping the landing-zone watcher');
  });
});
