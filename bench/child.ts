/** Benchmarks time their subjects as child processes, so each one's peak memory is its own. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { procCpuSeconds } from './cpu.js';

/** The children's memory budget, as a figure of peak RSS must say: the launcher sizes their heaps from it (workers get 256 MiB when none is set). */
export function childBudget(): string {
  return process.env.C360_MEMORY_MB
    ? `C360_MEMORY_MB=${process.env.C360_MEMORY_MB}`
    : "no C360_MEMORY_MB: 256 MiB for a worker, Node's own heap limits for a one-shot command";
}

/** Runs a child to completion (or until `done`), sampling its peak RSS (every 100 ms) and its CPU time from /proc. */
export async function timeChild(
  args: string[],
  done?: () => boolean,
  env: NodeJS.ProcessEnv = {},
): Promise<{ ms: number; peakRssMiB: number; cpuSeconds: number }> {
  const t0 = performance.now();
  // BENCH_PROFILE=dir writes a V8 CPU profile of each child there.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  let peakKiB = 0;
  let cpuSeconds = 0;
  // The child and any descendants: RSS summed now, CPU summed so far.
  const tree = (pid: number): number[] => {
    const children = (() => {
      try {
        return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return [];
      }
    })();
    return [pid, ...children.flatMap(tree)];
  };
  const sample = () => {
    let rssKiB = 0;
    let cpu = 0;
    for (const pid of tree(child.pid!)) {
      try {
        rssKiB += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
        cpu += procCpuSeconds(pid) ?? 0;
      } catch {
        // exited
      }
    }
    peakKiB = Math.max(peakKiB, rssKiB);
    if (cpu > 0) cpuSeconds = Math.max(cpuSeconds, cpu);
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
      return { ms, peakRssMiB: peakKiB / 1024, cpuSeconds };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ms: performance.now() - t0, peakRssMiB: peakKiB / 1024, cpuSeconds };
}
