/** Workers as real child processes (`c360 run`, `c360 sink`), to kill with real signals. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/contracts/project.js';

export interface Worker {
  child: ChildProcess;
  output: () => string;
  stdout: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Children still running when the test process ends (a failed test never killed them) go with it, not on into the next run. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** `c360 <args>` in a child process; `wrapper` runs it through another command (setpriv, to drop root's powers). */
export function spawnCli(args: string[], env: Record<string, string> = {}, wrapper: string[] = []): Worker {
  const command = [...wrapper, process.execPath, path.join(projectRoot(), 'bin', 'c360.js'), ...args];
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  running.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, output: () => out, stdout: () => stdout, exited };
}

/** A topology worker (`c360 run`) on a test namespace. */
export function spawnWorker(namespace: string, env: Record<string, string> = {}, extraArgs: string[] = []): Worker {
  return spawnCli(['run', '--namespace', namespace, '--session-timeout', '6000', '--ops-port', '0', ...extraArgs], env);
}

/** A sink worker (`c360 sink`) on a test namespace, writing under `storage`. */
export function spawnSink(namespace: string, storage: string, env: Record<string, string> = {}, extraArgs: string[] = []): Worker {
  return spawnCli(['sink', '--namespace', namespace, '--storage', storage, '--session-timeout', '2000', '--ops-port', '0', ...extraArgs], env);
}

/** What a finished `c360` command left: its exit code, its stdout (its answer), the rest (stderr), and both as they came. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  output: string;
}

/** Runs `c360` to its end. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const w = spawnCli(args, env);
  const { code } = await w.exited;
  // output() interleaves both streams; what is not stdout is stderr.
  return { code, stdout: w.stdout(), stderr: w.output().replace(w.stdout(), ''), output: w.output() };
}

/** A field of the first JSON log line with this message in `output` (a worker's stdout holds nothing else), once it is there. */
export function loggedValue<T>(output: string, msg: string, field: string): T | undefined {
  for (const line of output.split('\n')) {
    if (!line.startsWith('{') || !line.includes(`"${msg}"`)) continue;
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (entry.msg === msg && entry[field] !== undefined) return entry[field] as T;
  }
  return undefined;
}

/** The URL of a worker's ops endpoint, once it has logged where it listens. */
export function opsUrl(worker: Worker): string | undefined {
  const port = loggedValue<number>(worker.output(), 'ops endpoint listening', 'opsPort');
  return port === undefined ? undefined : `http://127.0.0.1:${port}`;
}

/** A collector (`c360 collect`) on a test namespace, once it listens: the process and its URL (from its JSON log line). */
export async function spawnCollector(
  namespace: string,
  settingsFile: string,
  env: Record<string, string> = {},
  port = 0,
): Promise<{ worker: Worker; url: string }> {
  const worker = spawnCli(['collect', '--config', settingsFile, '--port', String(port), '--namespace', namespace], { LOG_LEVEL: 'info', ...env });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const url = loggedValue<string>(worker.stdout(), 'collector listening', 'url');
    if (url) return { worker, url };
    if (Date.now() > deadline || worker.child.exitCode !== null) throw new Error(`collector did not start: ${worker.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
