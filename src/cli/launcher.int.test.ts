// bin/c360.js with a memory budget: V8's limits set by flags at start, in the same process (execve),
// whose exit code is the CLI's own. Each Node start prints its pid and heap limit (test/fixtures/heap-limit.mjs).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../contracts/project.js';

const launcher = path.join(projectRoot(), 'bin', 'c360.js');
const probe = `--import=${path.join(projectRoot(), 'test', 'fixtures', 'heap-limit.mjs')}`;

function launch(args: string[], env: Record<string, string>) {
  const { MALLOC_MMAP_THRESHOLD_: _own, ...inherited } = process.env;
  const run = spawnSync(process.execPath, [launcher, ...args], { encoding: 'utf8', env: { ...inherited, NODE_OPTIONS: probe, ...env } });
  const starts = [...run.stderr.matchAll(/^heap (\d+) ([\d.]+) (\S+) (.*)$/gm)].map((m) => ({
    pid: Number(m[1]),
    limitMiB: Number(m[2]),
    mmapThreshold: m[3],
    flags: m[4]!.split(' '),
  }));
  return { status: run.status, stdout: run.stdout, starts };
}

describe('the launcher and C360_MEMORY_MB', () => {
  it('restarts the same process with the young generation at 3 × budget/32 and the old one at the rest less 96 MiB', () => {
    const run = launch(['--version'], { C360_MEMORY_MB: '512' });
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(run.starts).toHaveLength(2);
    // execve: one process, so the pod's SIGTERM and memory accounting reach the CLI itself.
    expect(run.starts[1]!.pid).toBe(run.starts[0]!.pid);
    // 512 − 48 − 96 = 368 MiB old + 3 semi-spaces of 16 MiB.
    expect(run.starts[1]!.limitMiB).toBe(368 + 3 * 16);
    // Full collections when the heap doubles, not at V8's small-heap 1.1–1.3×.
    expect(run.starts[1]!.flags).toContain('--heap-growing-percent=100');
    // glibc's threshold fixed, so large freed buffers do not raise it and land in the main heap.
    expect(run.starts[0]!.mmapThreshold).toBe('-');
    expect(run.starts[1]!.mmapThreshold).toBe('131072');
  });

  it("keeps the environment's own mmap threshold", () => {
    const run = launch(['--version'], { C360_MEMORY_MB: '512', MALLOC_MMAP_THRESHOLD_: '65536' });
    expect(run.starts.map((s) => s.mmapThreshold)).toEqual(['65536', '65536']);
  });

  it('passes the CLI exit code through', () => {
    const run = launch(['no-such-command'], { C360_MEMORY_MB: '256' });
    expect(run.starts).toHaveLength(2);
    expect(run.starts[1]!.limitMiB).toBe(136 + 3 * 8);
    expect(run.status).toBe(1);
  });

  it('leaves a heap limit given in NODE_OPTIONS, and an unset budget, alone', () => {
    const given = launch(['--version'], { C360_MEMORY_MB: '512', NODE_OPTIONS: `${probe} --max-old-space-size=100` });
    expect(given.status).toBe(0);
    expect(given.starts).toHaveLength(1);
    const unset = launch(['--version'], { C360_MEMORY_MB: '' });
    expect(unset.status).toBe(0);
    expect(unset.starts).toHaveLength(1);
  });

  it('gives the workers (run, sink, collect, connect, watch) a budget of 256 MiB when none is set, and only them', () => {
    for (const command of ['run', 'sink', 'collect', 'connect', 'watch']) {
      const run = launch([command, '--help'], { C360_MEMORY_MB: '' });
      expect(run.status, command).toBe(0);
      expect(run.starts.map((s) => s.limitMiB)).toEqual([run.starts[0]!.limitMiB, 136 + 3 * 8]);
    }
    for (const command of ['ingest', 'matching']) expect(launch([command, '--help'], { C360_MEMORY_MB: '' }).starts).toHaveLength(1);
    // A budget given wins.
    expect(launch(['run', '--help'], { C360_MEMORY_MB: '512' }).starts[1]!.limitMiB).toBe(368 + 3 * 16);
  });
});
