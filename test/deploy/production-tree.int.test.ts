// What the image holds, run as pods run it. The Dockerfile's runtime stage is followed into a
// folder (production dependencies only, the built output; dev/production-tree.ts), and c360 is
// started from it with environment variables alone — no flags, no dev secrets, no checkout. Then
// the deployment's unit is scaled as Kubernetes would: workers added, stopped with SIGTERM (each
// must finish within the grace period the manifests give it) and killed with SIGKILL, while data
// flows; raw must hold exactly the unique records and the ledger must balance. Each worker's peak
// RSS and CPU are sampled from /proc and printed: docs/deploying.md's sizing and the manifests' resources.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildProductionTree } from '../../dev/image/production-tree.js';
import { projectRoot } from '../../src/contracts/project.js';
import { topicNames } from '../../src/contracts/topic-names.js';
import { readToEnd } from '../../src/kafka/read-to-end.js';
import { crmProfile, variant, webEvent } from '../fixtures/records.js';
import { config, eventually, testKafka } from '../support/kafka.js';
import { rawLayer } from '../support/raw-layer.js';
import { produce, testNamespace, waitForLedger } from '../support/topology.js';
import { loggedValue } from '../support/worker.js';

const kafka = testKafka();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-tree-'));
const tree = path.join(work, 'app');
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

interface Usage {
  kind: string;
  peakRssMiB: number;
  cpuSeconds: number;
}
const usage: Usage[] = [];

/** A c360 process started from the tree with a minimal environment, sampled from /proc until it exits. */
class TreeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  out = '';
  private readonly sample: Usage;

  constructor(
    readonly kind: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, [path.join(tree, 'bin', 'c360.js'), ...kind.split(' ')], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.sample = { kind, peakRssMiB: 0, cpuSeconds: 0 };
    usage.push(this.sample);
    const timer = setInterval(() => this.read(), 250);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        clearInterval(timer);
        resolve({ code, signal, at: Date.now() });
      }),
    );
  }

  private read(): void {
    try {
      const status = fs.readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
      const stat = fs.readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      this.sample.peakRssMiB = Math.max(this.sample.peakRssMiB, hwm);
      this.sample.cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    } catch {
      // exited between two samples
    }
  }

  /** A value from its JSON log lines (its stdout holds nothing else). */
  async logged<T>(msg: string, field: string, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = loggedValue<T>(this.out, msg, field);
      if (value !== undefined) return value;
      if (Date.now() > deadline || this.child.exitCode !== null) throw new Error(`${this.kind} never logged "${msg}": ${this.out.slice(-2000)}`);
      await sleep(100);
    }
  }

  async ready(): Promise<void> {
    const port = await this.logged<number>('ops endpoint listening', 'opsPort');
    const deadline = Date.now() + 90_000;
    while ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status !== 200) {
      if (Date.now() > deadline || this.child.exitCode !== null) throw new Error(`${this.kind} never became ready: ${this.out.slice(-2000)}`);
      await sleep(200);
    }
  }

  /** SIGTERM, as Kubernetes stops a pod; resolves with how long the graceful stop took and its exit. */
  async terminate(): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null }> {
    const at = Date.now();
    this.child.kill('SIGTERM');
    const exit = await this.exited;
    return { ms: exit.at - at, code: exit.code, signal: exit.signal };
  }
}

/** The grace period the manifests give each worker kind. */
function gracePeriods(): Record<string, number> {
  const out = execFileSync('kubectl', ['kustomize', path.join(projectRoot(), 'deploy', 'kubernetes', 'base')], { encoding: 'utf8' });
  const grace: Record<string, number> = {};
  for (const doc of parseAllDocuments(out).map(
    (d) => d.toJSON() as { kind: string; metadata: { name: string }; spec: { template: { spec: { terminationGracePeriodSeconds: number } } } },
  )) {
    if (doc.kind === 'Deployment') grace[doc.metadata.name] = doc.spec.template.spec.terminationGracePeriodSeconds * 1000;
  }
  return grace;
}

function baseEnv(namespace: string, layer: string): Record<string, string> {
  const secret = (name: string) => fs.readFileSync(path.join(config.home, 'secrets', name), 'utf8').trim();
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    KAFKA_BROKERS: config.kafka.brokers.join(','),
    SCHEMA_REGISTRY_URL: config.schemaRegistry.url,
    REDIS_URL: config.redisUrl,
    C360_KEY_STORE_URL: config.keyStoreUrl,
    C360_PII_KEY: secret('pii.key'),
    C360_KEK: secret('kek.key'),
    // An empty home: nothing of the development stack (its secrets, its cache) is found there.
    C360_HOME: path.join(work, 'home'),
    C360_NAMESPACE: namespace,
    // The local stack is one broker; topics come from `c360 topics create`, as the manifests' Job runs it.
    C360_REPLICATION_FACTOR: '1',
    C360_MIN_INSYNC_REPLICAS: '1',
    C360_STORAGE_URL: layer,
    C360_HOST: '127.0.0.1',
    C360_OPS_PORT: '0',
    C360_SESSION_TIMEOUT_MS: '6000',
    C360_SINK_IDLE_FLUSH_MS: '1000',
    LOG_LEVEL: 'info',
  };
}

describe('the image, run as its pods run it', () => {
  const running: TreeProcess[] = [];
  const start = (kind: string, env: Record<string, string>) => {
    const p = new TreeProcess(kind, env);
    running.push(p);
    return p;
  };
  let grace: Record<string, number>;

  beforeAll(() => {
    buildProductionTree(tree);
    grace = gracePeriods();
  }, 300_000);
  afterAll(() => {
    for (const p of running) p.child.kill('SIGKILL');
    const byKind = new Map<string, Usage[]>();
    for (const u of usage) byKind.set(u.kind, [...(byKind.get(u.kind) ?? []), u]);
    for (const [kind, list] of byKind) {
      console.log(
        `production tree: c360 ${kind}: ${list.length} process(es), peak RSS ${Math.round(Math.max(...list.map((u) => u.peakRssMiB)))} MiB (max), CPU ${list.map((u) => u.cpuSeconds.toFixed(1)).join(' + ')} s`,
      );
    }
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('holds production dependencies only, and no development command', () => {
    for (const dev of ['vitest', 'typescript', '@biomejs/biome', 'node', 'fast-check', 'kubernetes-models']) {
      expect(fs.existsSync(path.join(tree, 'node_modules', dev)), dev).toBe(false);
    }
    expect(fs.existsSync(path.join(tree, 'dist', 'dev'))).toBe(false);
    expect(fs.existsSync(path.join(tree, 'node_modules', 'kafkajs'))).toBe(true);
    const stack = (() => {
      try {
        execFileSync(process.execPath, [path.join(tree, 'bin', 'c360.js'), 'stack', 'status'], { encoding: 'utf8', stdio: 'pipe' });
        return 'ran';
      } catch (err) {
        return String((err as { stderr: string }).stderr);
      }
    })();
    expect(stack).toMatch(/unknown command 'stack'/);
  });

  it('runs the topology worker, the sink and the collector from environment alone, and they land what they are sent', async () => {
    const namespace = testNamespace();
    const layer = path.join(work, `layer-${namespace}`);
    const env = baseEnv(namespace, layer);
    const settings = path.join(work, 'collector.json');
    fs.writeFileSync(settings, JSON.stringify({ apiKeys: { 'tree-web-key-0123456789': 'web' } }));
    // Workers do not create topics: before the Job has run, one refuses to start, in one sentence.
    const early = start('run', env);
    expect((await early.exited).code).toBe(2);
    expect(early.out).toContain(`topics of namespace ${namespace} do not exist`);
    const setup = start('topics create', env);
    expect((await setup.exited).code, setup.out).toBe(0);
    const run = start('run', env);
    const sink = start('sink', env);
    const collect = start('collect', { ...env, C360_COLLECTOR_CONFIG: settings, C360_COLLECTOR_PORT: '0' });
    await Promise.all([run.ready(), sink.ready()]);
    const url = await collect.logged<string>('collector listening', 'url');

    const events = Array.from({ length: 50 }, (_, i) => variant(webEvent, { event_id: `tree-ev-${i}` }));
    const posted = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'tree-web-key-0123456789' },
      body: JSON.stringify(events),
    });
    expect(posted.status).toBe(200);
    await produce(
      kafka,
      topicNames(namespace).ingest('crm'),
      Array.from({ length: 100 }, (_, i) => ({
        key: `C-${i}`,
        value: JSON.stringify(variant(crmProfile, { customer_id: `C-tree-${i}`, email: `t${i}@example.com` })),
      })),
    );
    const ledger = await waitForLedger(kafka, topicNames(namespace), (l) => l.total.in === 150, 120_000);
    expect(ledger.total).toMatchObject({ in: 150, raw: 150, dead_letter: 0, duplicates: 0 });
    expect(
      await eventually(
        () => rawLayer(layer),
        (r) => r.rows >= 150,
        120_000,
      ),
    ).toEqual({ rows: 150, ingestIds: 150 });

    for (const [p, deployment] of [
      [run, 'c360-topology'],
      [sink, 'c360-sink'],
      [collect, 'c360-collector'],
    ] as const) {
      const stop = await p.terminate();
      expect(stop.code, `${p.kind}: ${p.out.slice(-1000)}`).toBe(0);
      expect(stop.ms, p.kind).toBeLessThan(grace[deployment]!);
    }
  });

  it('scales up and down while data flows (SIGTERM and SIGKILL): raw holds exactly the unique records, the ledger balances', async () => {
    const namespace = testNamespace();
    const names = topicNames(namespace);
    const layer = path.join(work, `layer-${namespace}`);
    const env = baseEnv(namespace, layer);
    expect((await start('topics create', env).exited).code).toBe(0);
    const workers = [start('run', env)];
    const sinks = [start('sink', env)];
    await Promise.all([workers[0]!.ready(), sinks[0]!.ready()]);

    // Eight waves of 500 new profiles, each followed by 50 exact re-sends of profiles already sent.
    const UNIQUE_PER_WAVE = 500;
    const REPEATS_PER_WAVE = 50;
    const profile = (i: number) => ({
      key: `C-${i}`,
      value: JSON.stringify(variant(crmProfile, { customer_id: `C-scale-${i}`, email: `s${i}@example.com`, phone: null })),
    });
    let sent = 0;
    const wave = async (w: number) => {
      const fresh = Array.from({ length: UNIQUE_PER_WAVE }, (_, i) => profile(w * UNIQUE_PER_WAVE + i));
      const again = Array.from({ length: REPEATS_PER_WAVE }, (_, i) => profile(Math.floor(((w + 1) * UNIQUE_PER_WAVE * i) / REPEATS_PER_WAVE)));
      await produce(kafka, names.ingest('crm'), [...fresh, ...again]);
      sent += fresh.length + again.length;
    };
    const stops: Array<{ kind: string; ms: number; code: number | null; signal: NodeJS.Signals | null }> = [];

    await wave(0);
    workers.push(start('run', env), start('run', env));
    sinks.push(start('sink', env));
    await wave(1);
    await Promise.all([...workers, ...sinks].map((p) => p.ready()));
    await wave(2);
    stops.push({ kind: 'run', ...(await workers.shift()!.terminate()) });
    await wave(3);
    workers.shift()!.child.kill('SIGKILL');
    workers.push(start('run', env));
    await wave(4);
    stops.push({ kind: 'sink', ...(await sinks.shift()!.terminate()) });
    sinks.push(start('sink', env));
    await wave(5);
    sinks.shift()!.child.kill('SIGKILL');
    sinks.push(start('sink', env));
    await wave(6);
    await wave(7);

    const unique = 8 * UNIQUE_PER_WAVE;
    const ledger = await waitForLedger(kafka, names, (l) => l.total.in === sent, 180_000);
    expect(ledger.total).toMatchObject({ in: sent, raw: unique, duplicates: sent - unique, dead_letter: 0 });
    // Everything the raw topic holds, to its end: each unique profile once.
    const rawKeys: string[] = [];
    await readToEnd(kafka, names.raw('crm'), (m) => rawKeys.push(m.key!.toString()));
    expect([rawKeys.length, new Set(rawKeys).size]).toEqual([unique, unique]);
    expect(
      await eventually(
        () => rawLayer(layer),
        (r) => r.rows >= unique,
        180_000,
      ),
    ).toEqual({ rows: unique, ingestIds: unique });

    for (const p of [...workers, ...sinks]) stops.push({ kind: p.kind, ...(await p.terminate()) });
    for (const s of stops) {
      expect([s.kind, s.code, s.signal]).toEqual([s.kind, 0, null]);
      expect(s.ms, s.kind).toBeLessThan(grace[s.kind === 'run' ? 'c360-topology' : 'c360-sink']!);
    }
    console.log(
      `production tree: graceful stops ${stops.map((s) => `${s.kind} ${(s.ms / 1000).toFixed(1)} s`).join(', ')}; ${sent} records in, ${unique} unique`,
    );
  });
});
