/**
 * Background processes of the local stack: started detached with their output in the state
 * folder, tracked by pid files, and recognised by a marker in their command line so that
 * `down` never signals a process it did not start (pids are reused).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ManagedProcess {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** A string that appears in the command line of this process and of no other. */
  marker: string;
}

function pidFile(stateDir: string, name: string): string {
  return path.join(stateDir, `${name}.pid`);
}

export function logFile(stateDir: string, name: string): string {
  return path.join(stateDir, `${name}.log`);
}

export function startDetached(stateDir: string, proc: ManagedProcess): number {
  fs.mkdirSync(stateDir, { recursive: true });
  const out = fs.openSync(logFile(stateDir, proc.name), 'a');
  const child = spawn(proc.command, proc.args, {
    cwd: proc.cwd,
    env: proc.env ?? process.env,
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${proc.command}`);
  child.unref();
  fs.writeFileSync(pidFile(stateDir, proc.name), `${child.pid}\n${proc.marker}\n`);
  return child.pid;
}

/** The pid of the process this stack started under `name`, if it is still running. */
export function runningPid(stateDir: string, name: string): number | undefined {
  let content: string;
  try {
    content = fs.readFileSync(pidFile(stateDir, name), 'utf8');
  } catch {
    return undefined;
  }
  const [pidText, marker] = content.split('\n');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !marker) return undefined;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return cmdline.includes(marker) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM, then SIGKILL after the grace period; resolves when the process is gone. */
export async function stopProcess(stateDir: string, name: string, graceMs = 30_000): Promise<boolean> {
  const pid = runningPid(stateDir, name);
  if (pid === undefined) {
    fs.rmSync(pidFile(stateDir, name), { force: true });
    return false;
  }
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (runningPid(stateDir, name) !== undefined && Date.now() < deadline) await sleep(200);
  if (runningPid(stateDir, name) !== undefined) {
    signal(pid, 'SIGKILL');
    while (runningPid(stateDir, name) !== undefined) await sleep(100);
  }
  fs.rmSync(pidFile(stateDir, name), { force: true });
  return true;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function tailLog(stateDir: string, name: string, lines = 15): string {
  try {
    return fs.readFileSync(logFile(stateDir, name), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls until the probe answers true; returns how long that took, or throws the timeout's error. */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, onTimeout: () => Error): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await probe()) return Date.now() - started;
    await sleep(250);
  }
  throw onTimeout();
}
