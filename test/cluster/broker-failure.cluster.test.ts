// Broker failures on the three-broker cluster (`c360 stack up --brokers 3`), with the production
// replication (3 replicas, min.insync.replicas 2): three topology workers, a sink and a collector
// run as processes while files are ingested and events posted, and a broker fails mid-flow. After
// each fault: raw holds exactly the unique records, dead letters exactly the invalid ones, the
// ledger balances, every acknowledged collector event landed once, and no worker is stuck.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { type Brokers, stackUp } from '../../dev/stack/index.js';
import { CLUSTER_BROKERS } from '../../dev/stack/kafka.js';
import { stackPaths } from '../../dev/stack/paths.js';
import { runningPid } from '../../dev/stack/processes.js';
import { CLUSTER_SIZE } from '../../dev/stack/versions.js';
import { formatLedger, type LedgerEntry, totalsOf } from '../../src/contracts/ledger.js';
import { topicNames } from '../../src/contracts/topic-names.js';
import { groupLag } from '../../src/kafka/lag.js';
import { readToEnd } from '../../src/kafka/read-to-end.js';
import { retry } from '../../src/retry.js';
import { variant, webEvent } from '../fixtures/records.js';
import { config, eventually, testKafka } from '../support/kafka.js';
import { rawLayer } from '../support/raw-layer.js';
import { testNamespace, waitForLedger } from '../support/topology.js';
import { runCli, spawnCli, spawnCollector, spawnSink, spawnWorker, type Worker } from '../support/worker.js';

const kafka = testKafka();
const state = stackPaths(config.home).state;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-cluster-'));
const CLUSTER: Brokers = 3;

/** Kafka's transaction coordinator for an id: the leader of __transaction_state partition abs(String.hashCode) % 50. */
function transactionStatePartition(transactionalId: string): number {
  let h = 0;
  for (let i = 0; i < transactionalId.length; i++) h = (Math.imul(h, 31) + transactionalId.charCodeAt(i)) | 0;
  return (h === -2147483648 ? 0 : Math.abs(h)) % 50;
}

/** Each partition's leader; on a fresh cluster `__transaction_state` is still being created when the first transactions start, which is waited out. */
async function leaders(topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await retry(
      async () => {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        return new Map(topics[0]!.partitions.map((p) => [p.partitionId, p.leader]));
      },
      { retries: 30, initialMs: 500, maxMs: 1_000 },
    );
  } finally {
    await admin.disconnect();
  }
}

/** The controller quorum's leader, as the nodes' quorum-state files record it (the highest epoch wins). */
function quorumLeader(): number {
  let best = { leaderId: -1, leaderEpoch: -1 };
  for (let n = 1; n <= CLUSTER_SIZE; n++) {
    const file = path.join(state, 'kafka-cluster', `node-${n}`, 'data', '__cluster_metadata-0', 'quorum-state');
    const q = JSON.parse(fs.readFileSync(file, 'utf8')) as { leaderId: number; leaderEpoch: number };
    if (q.leaderId > 0 && q.leaderEpoch > best.leaderEpoch) best = q;
  }
  return best.leaderId;
}

function signalNode(node: number, signal: NodeJS.Signals): void {
  const pid = runningPid(state, `kafka-${node}`);
  if (pid === undefined) throw new Error(`kafka-${node} is not running`);
  process.kill(pid, signal);
}

async function killNode(node: number): Promise<void> {
  signalNode(node, 'SIGKILL');
  while (runningPid(state, `kafka-${node}`) !== undefined) await sleep(100);
}

/** Starts what of the cluster does not answer, and waits until it does. */
const restartCluster = () => stackUp(config.home, () => undefined, { brokers: CLUSTER });

const UNIQUE = 1_600;
const DUPLICATES = 140;
const INVALID = 80;
const FILES = 8;
const EVENTS = 800;

/** Commerce orders spread over FILES files: unique rows, rows repeated from earlier files (exact duplicates), invalid emails. */
function orderFiles(dir: string): string[] {
  const row = (i: number, email = `buyer${i}@example.com`) =>
    `T-${i},C-${i % 500},${email},ECOMMERCE,2026-11-21T12:00:00Z,EUR,${(i % 90) + 10}.50,"[{""sku"":""SKU-${i % 40}"",""quantity"":1,""unit_price"":""${(i % 90) + 10}.50""}]",COMPLETED`;
  const files: string[] = [];
  const perFile = UNIQUE / FILES;
  for (let f = 0; f < FILES; f++) {
    const rows = Array.from({ length: perFile }, (_, i) => row(f * perFile + i));
    // From the second file on: repeats of rows already sent, and orders with an email that is not one.
    if (f > 0) rows.push(...Array.from({ length: DUPLICATES / (FILES - 1) }, (_, i) => row((f - 1) * perFile + i)));
    rows.push(...Array.from({ length: INVALID / FILES }, (_, i) => row(100_000 + f * 100 + i, 'not-an-email')));
    const file = path.join(dir, `orders-${f}.csv`);
    fs.writeFileSync(file, `transaction_id,customer_id,email,channel,occurred_at,currency,total_amount,line_items,status\n${rows.join('\n')}\n`);
    files.push(file);
  }
  return files;
}

describe('a broker failure on the three-broker cluster', () => {
  const workers: Worker[] = [];
  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    // Whatever a failed test left stopped or killed comes back for the next one.
    for (let n = 1; n <= CLUSTER_SIZE; n++) if (runningPid(state, `kafka-${n}`) !== undefined) signalNode(n, 'SIGCONT');
    await restartCluster();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("runs against the cluster with production replication, the brokers' own default", async () => {
    expect(config.kafka.brokers).toEqual(CLUSTER_BROKERS);
    // Nothing is exported: topics take the brokers' default.replication.factor (3) and min.insync.replicas (2).
    expect(config.topics).toEqual({});
    const namespace = testNamespace();
    const names = topicNames(namespace);
    const setup = await runCli(['topics', 'create', '--namespace', namespace]);
    expect(setup.code, setup.output).toBe(0);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [names.ingest('web'), names.ledger] });
      expect(new Set(topics.flatMap((t) => t.partitions.map((p) => p.replicas.length)))).toEqual(new Set([3]));
    } finally {
      await admin.disconnect();
    }
  });

  /**
   * Starts the workers and the flow, runs `fault` a few seconds in (it says what it did), and checks
   * the outcome once everything sent has been counted.
   */
  async function survives(fault: (names: ReturnType<typeof topicNames>) => Promise<string>): Promise<void> {
    const namespace = testNamespace();
    const names = topicNames(namespace);
    const dir = fs.mkdtempSync(path.join(work, `${namespace}-`));
    const layer = path.join(dir, 'layer');
    const setup = await runCli(['topics', 'create', '--namespace', namespace]);
    expect(setup.code, setup.output).toBe(0);
    // Sinks publish an idle partition's file after a second, so the raw layer is complete soon after the flow ends.
    const env = { LOG_LEVEL: 'info', C360_SINK_IDLE_FLUSH_MS: '1000' };
    const topology = [1, 2, 3].map(() => spawnWorker(namespace, env));
    const sink = spawnSink(namespace, layer, env);
    const settings = path.join(dir, 'collector.json');
    fs.writeFileSync(settings, JSON.stringify({ apiKeys: { 'cluster-web-key-0123456789': 'web' } }));
    const collector = await spawnCollector(namespace, settings, env);
    workers.push(...topology, sink, collector.worker);
    // On a failure, every process's output is kept for reading, and the test says where.
    onTestFailed(() => {
      const logs = fs.mkdtempSync(path.join(os.tmpdir(), `c360-cluster-${namespace}-`));
      for (const [name, w] of [...topology.map((w, i) => [`run-${i + 1}`, w] as const), ['sink', sink] as const, ['collect', collector.worker] as const])
        fs.writeFileSync(path.join(logs, `${name}.log`), w.output());
      console.log(`cluster: the processes' output is in ${logs}`);
    });
    const files = orderFiles(dir);

    // Files one after another, and events in batches that an SDK resends until they are acknowledged.
    const ingests: string[] = [];
    const ingestion = (async () => {
      for (const file of files) {
        const run = spawnCli(['ingest', file, '--source', 'commerce', '--namespace', namespace, '--batch-rows', '50']);
        const timer = setTimeout(() => run.child.kill('SIGKILL'), 180_000);
        const { code } = await run.exited;
        clearTimeout(timer);
        ingests.push(`${path.basename(file)}: exit ${code}; ${run.stdout().trim()}`);
        expect(code, `${path.basename(file)}: ${run.output().slice(-2000)}`).toBe(0);
      }
    })();
    let refusals = 0;
    const events = (async () => {
      for (let b = 0; b < EVENTS / 20; b++) {
        const batch = Array.from({ length: 20 }, (_, i) => variant(webEvent, { event_id: `${namespace}-ev-${b * 20 + i}` }));
        for (;;) {
          const answer = await fetch(`${collector.url}/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-api-key': 'cluster-web-key-0123456789' },
            body: JSON.stringify(batch),
            signal: AbortSignal.timeout(60_000),
          }).catch(() => undefined);
          if (answer?.status === 200) break;
          refusals++;
          await sleep(500);
        }
        await sleep(100);
      }
    })();
    await sleep(4_000);
    const t0 = Date.now();
    const did = await fault(names);
    console.log(`cluster: ${did}; fault over after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await Promise.all([ingestion, events]);
    console.log(`cluster: flow sent after ${((Date.now() - t0) / 1000).toFixed(1)} s; collector refusals ${refusals}`);

    // Once the topology has nothing left to process, the ledger is read whole.
    const expectedIn = UNIQUE + DUPLICATES + INVALID;
    await waitForLedger(kafka, names, (l) => (l.bySource.get('commerce')?.in ?? 0) >= expectedIn && (l.bySource.get('web')?.raw ?? 0) >= EVENTS, 240_000);
    const ingestTopics = [names.ingest('commerce'), names.ingest('web')];
    await eventually(
      () => groupLag(kafka, names.topologyGroup, ingestTopics),
      (lag) => lag.every((l) => l.records === 0),
      120_000,
    );
    const entries: LedgerEntry[] = [];
    await readToEnd(kafka, names.ledger, (m) => entries.push(JSON.parse(m.value!.toString()) as LedgerEntry));
    const ledger = totalsOf(entries);
    console.log(`cluster: processed after ${((Date.now() - t0) / 1000).toFixed(1)} s\n${formatLedger(ledger)}`);
    // On a failure: the ingest runs' summaries, and any order that reached its ingest topic more than once.
    const sentTwice = async () => {
      const offsets = new Map<string, string[]>();
      await readToEnd(kafka, names.ingest('commerce'), (m) => offsets.set(m.key!.toString(), [...(offsets.get(m.key!.toString()) ?? []), m.offset]));
      return JSON.stringify([...offsets].filter(([, o]) => o.length > 1));
    };
    const context = `${did}; collector refusals ${refusals}; ingests:\n${ingests.join('\n')}`;
    if (ledger.bySource.get('commerce')?.in !== expectedIn) console.log(`cluster: orders in the ingest topic more than once: ${await sentTwice()}`);
    expect(ledger.bySource.get('commerce'), context).toMatchObject({ in: expectedIn, raw: UNIQUE, duplicates: DUPLICATES, dead_letter: INVALID });
    const web = ledger.bySource.get('web')!;
    expect(web, context).toMatchObject({ raw: EVENTS, dead_letter: 0 });
    expect(web.in, context).toBe(web.raw + web.duplicates);

    // Raw topics hold each record once: every acknowledged event, every unique order; the dead-letter topic every invalid one.
    const keysIn = async (topic: string) => {
      const keys: string[] = [];
      await readToEnd(kafka, topic, (m) => keys.push(m.key?.toString() ?? ''));
      return { messages: keys.length, keys: new Set(keys).size };
    };
    expect(await keysIn(names.raw('commerce')), context).toEqual({ messages: UNIQUE, keys: UNIQUE });
    expect(await keysIn(names.raw('web')), context).toEqual({ messages: EVENTS, keys: EVENTS });
    expect((await keysIn(names.deadLetter)).messages, context).toBe(INVALID);
    // The sink landed exactly the raw records; no group has anything left, and every worker still runs.
    const landed = await eventually(
      () => rawLayer(layer),
      (r) => r.rows >= UNIQUE + EVENTS,
      120_000,
    );
    expect(landed, context).toEqual({ rows: UNIQUE + EVENTS, ingestIds: UNIQUE + EVENTS });
    const lag = [
      ...(await groupLag(kafka, names.topologyGroup, ingestTopics)),
      ...(await groupLag(kafka, names.sinkGroup, [names.raw('commerce'), names.raw('web')])),
    ];
    expect(
      lag.filter((l) => l.records > 0),
      context,
    ).toEqual([]);
    for (const w of [...topology, sink, collector.worker]) expect(w.child.exitCode, `${context}: ${w.output().slice(-3000)}`).toBeNull();
    for (const w of [...topology, sink, collector.worker]) w.child.kill('SIGTERM');
    await Promise.all([...topology, sink, collector.worker].map((w) => w.exited));
  }

  it('survives the broker that coordinates the workers’ transactions and leads the ingest partitions being SIGKILLed and restarted', async () => {
    await survives(async (names) => {
      const coordinators = await leaders('__transaction_state');
      const ingest = await leaders(names.ingest('commerce'));
      // The broker coordinating the most of the commerce partitions' transactional ids; ties go to the one leading most of them.
      const score = new Map<number, number>();
      for (const [partition, leader] of ingest) {
        const coordinator = coordinators.get(transactionStatePartition(`${names.topologyGroup}.${names.ingest('commerce')}:${partition}`))!;
        score.set(coordinator, (score.get(coordinator) ?? 0) + 10);
        score.set(leader, (score.get(leader) ?? 0) + 1);
      }
      const victim = [...score].sort((a, b) => b[1] - a[1])[0]![0];
      await killNode(victim);
      await sleep(5_000);
      await restartCluster();
      return `broker ${victim} (coordinator and leader score ${score.get(victim)}) killed for 5 s`;
    });
  });

  it('survives a broker stopped (SIGSTOP) for longer than the session timeout, then resumed', async () => {
    await survives(async (names) => {
      const victim = (await leaders(names.ingest('web'))).get(0)!;
      signalNode(victim, 'SIGSTOP');
      await sleep(20_000);
      signalNode(victim, 'SIGCONT');
      return `broker ${victim} (leader of web partition 0) stopped for 20 s`;
    });
  });

  it('survives the controller quorum leader being SIGKILLed and restarted', async () => {
    await survives(async () => {
      const victim = quorumLeader();
      await killNode(victim);
      await sleep(5_000);
      await restartCluster();
      return `controller quorum leader ${victim} killed for 5 s, then leader ${quorumLeader()}`;
    });
  });
});
