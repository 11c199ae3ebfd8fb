/** A private redis-server without persistence, for tests that stop, restart or wipe it: the shared one on 6379 stays untouched. */
import { type ChildProcess, spawn } from 'node:child_process';
import { redisAnswers } from '../../src/observability/probes.js';

export async function until(probe: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class PrivateRedis {
  readonly port = 16_379 + Math.floor(Math.random() * 1000);
  readonly url = `redis://127.0.0.1:${this.port}`;
  private child: ChildProcess | undefined;

  /** Starts it (empty: nothing is saved) and waits until it answers. */
  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(this.port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await until(() => redisAnswers(this.url), 'the private redis-server');
  }

  /** SIGKILL, and waits until it has exited. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}
