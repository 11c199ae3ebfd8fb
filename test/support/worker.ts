/** Topology workers as real child processes (`c360 run`), to kill with real signals. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../src/stack/paths.js';

export interface Worker {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnWorker(namespace: string, env: Record<string, string> = {}, extraArgs: string[] = []): Worker {
  const child = spawn(
    process.execPath,
    [path.join(repoRoot(), 'bin', 'c360.js'), 'run', '--namespace', namespace, '--session-timeout', '6000', '--ops-port', '0', ...extraArgs],
    { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exited };
}
