/**
 * Where the CPU goes: the benchmark's own process, the broker and Redis share this machine's cores,
 * so a rate is only half a figure. CPU time comes from /proc (Linux); elsewhere it is not shown.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { Redis } from 'ioredis';
import { stackPaths } from '../dev/stack/paths.js';
import { runningPid } from '../dev/stack/processes.js';
import type { Config } from '../src/config.js';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux build Node supports

/** A process's user + system CPU seconds so far, from /proc/<pid>/stat; undefined once it is gone. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export interface CpuMeter {
  /** CPU seconds of each process since the meter started. */
  read(): Record<string, number | undefined>;
}

/** Meters this process (all its threads, GC included), the stack's broker and the Redis server. */
export async function cpuMeter(config: Config, redis: Redis): Promise<() => CpuMeter> {
  const kafka = runningPid(stackPaths(config.home).state, 'kafka');
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  const pids: Record<string, number | undefined> = { kafka, redis: Number.isInteger(redisPid) ? redisPid : undefined };
  return () => {
    const self = process.cpuUsage();
    const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid === undefined ? undefined : procCpuSeconds(pid)]));
    return {
      read() {
        const used = process.cpuUsage(self);
        const out: Record<string, number | undefined> = { worker: (used.user + used.system) / 1e6 };
        for (const [k, pid] of Object.entries(pids)) {
          const now = pid === undefined ? undefined : procCpuSeconds(pid);
          out[k] = now === undefined || start[k] === undefined ? undefined : now - start[k];
        }
        return out;
      },
    };
  };
}

/** `worker 61 + kafka 9 + redis 14 = 84 µs CPU per record: 2 cores cap this at 23810 records/s` */
export function describeCpu(seconds: Record<string, number | undefined>, records: number): string {
  const parts = Object.entries(seconds).map(([k, s]) => `${k} ${s === undefined ? 'n/a' : Math.round((s * 1e6) / records)}`);
  const perRecord = Object.values(seconds).reduce<number>((a, s) => a + (s ?? 0), 0) / records;
  const cores = os.availableParallelism();
  return `${parts.join(' + ')} = ${Math.round(perRecord * 1e6)} µs CPU per record: ${cores} cores cap this at ${Math.round(cores / perRecord)} records/s`;
}
