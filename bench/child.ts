/** Benchmarks time their subjects as child processes, so each one's peak memory is its own. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

/** Runs a child to completion (or until `done`), sampling its peak RSS from /proc. */
export async function timeChild(args: string[], done?: () => boolean): Promise<{ ms: number; peakRssMiB: number }> {
  const t0 = performance.now();
  // BENCH_PROFILE=dir writes a V8 CPU profile of each child there.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, ...args], { env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'inherit', 'inherit'] });
  let peakKiB = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      // exited
    }
  };
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let finished = false;
  void exited.then(() => (finished = true));
  while (!finished) {
    sample();
    if (done?.()) {
      const ms = performance.now() - t0;
      sample();
      child.kill('SIGTERM');
      await exited;
      return { ms, peakRssMiB: peakKiB / 1024 };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ms: performance.now() - t0, peakRssMiB: peakKiB / 1024 };
}
