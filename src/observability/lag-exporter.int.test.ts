// Lag from the brokers (`c360 lag --serve`): a real exporter process reading a real group's offsets
// while the group's workers start, scale from one to two, and stop. The lag stays visible once no
// worker is left, each partition is one series whatever the number of workers, and a stopped
// group's committed offsets stop moving — what the C360GroupStopped and C360GroupStalled alerts read.
import { afterAll, describe, expect, it } from 'vitest';
import { crmProfile } from '../../test/fixtures/records.js';
import { config, eventually, testKafka } from '../../test/support/kafka.js';
import { json, produce, type RunningTopology, startTopology, testNamespace } from '../../test/support/topology.js';
import { opsUrl, runCli, spawnCli, type Worker } from '../../test/support/worker.js';
import { topicNames } from '../contracts/topic-names.js';
import { loadTopology } from '../topology/load.js';
import { createTopologyTopics } from '../topology/setup.js';

const kafka = testKafka();

type Series = Map<string, number>;

/** The exporter's samples of one metric for one group, by `topic[partition]` (or '' for a group-wide one). */
async function samples(exporter: Worker, metric: string, group: string): Promise<Series> {
  const text = await (await fetch(`${opsUrl(exporter)}/metrics`)).text();
  const out: Series = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) || !line.includes(`group="${group}"`)) continue;
    const topic = /topic="([^"]+)"/.exec(line)?.[1];
    const partition = /partition="([^"]+)"/.exec(line)?.[1];
    out.set(topic ? `${topic}[${partition}]` : '', Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

const sum = (s: Series) => [...s.values()].reduce((a, b) => a + b, 0);

describe('c360 lag --serve', () => {
  const running: RunningTopology[] = [];
  let exporter: Worker | undefined;
  afterAll(async () => {
    exporter?.child.kill('SIGKILL');
    for (const t of running) await t.stop();
  });

  it('shows what waits for a group from the brokers: with no worker, one, two, and after they stop', async () => {
    const ns = testNamespace();
    const names = topicNames(ns);
    const topology = await loadTopology('customer360', { namespace: ns });
    await createTopologyTopics(kafka, topology, config.topics);
    const records = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => json({ ...crmProfile, customer_id: `C-lag-${from + i}` }, `C-lag-${from + i}`));
    await produce(kafka, names.ingest('crm'), records(0, 30));

    exporter = spawnCli(['lag', '--serve', '--interval', '1000', '--namespace', ns, '--ops-port', '0'], { LOG_LEVEL: 'info' });
    const exporting = exporter;
    await eventually(
      async () => opsUrl(exporting),
      (url) => url !== undefined,
      30_000,
    );
    const group = names.topologyGroup;
    const lagOf = async () => samples(exporting, 'c360_group_lag_records', group);
    const crmLag = async () => sum(new Map([...(await lagOf())].filter(([k]) => k.startsWith(names.ingest('crm')))));
    const members = async () => (await samples(exporting, 'c360_group_members', group)).get('') ?? -1;
    // The ingest topics hold no transaction markers: a partition's committed offset counts the records consumed from it.
    const crmConsumed = async () =>
      [...(await samples(exporting, 'c360_group_committed_offset', group))]
        .filter(([k]) => k.startsWith(names.ingest('crm')))
        .reduce((n, [, v]) => n + Math.max(v, 0), 0);

    // Nothing consumes the group yet: the lag is every record, the group has no member and no committed offset.
    expect(await eventually(crmLag, (n) => n === 30, 30_000)).toBe(30);
    expect(await members()).toBe(0);
    const committed = await samples(exporting, 'c360_group_committed_offset', group);
    expect([...committed].filter(([k]) => k.startsWith(names.ingest('crm'))).every(([, v]) => v === -1)).toBe(true);

    // One worker, then two: the lag goes to 0 and every partition stays one series.
    running.push(await startTopology(ns));
    expect(await eventually(crmConsumed, (n) => n === 30, 60_000)).toBe(30);
    expect(await crmLag()).toBe(0);
    running.push(await startTopology(ns));
    expect(await eventually(members, (n) => n === 2, 60_000)).toBe(2);
    await produce(kafka, names.ingest('crm'), records(30, 10));
    expect(await eventually(crmConsumed, (n) => n === 40, 60_000)).toBe(40);
    expect(await crmLag()).toBe(0);
    const partitions = topology.sources.reduce((n, s) => n + s.partitions, 0);
    expect((await lagOf()).size).toBe(partitions);

    // The group stops: its lag stays exported, with no member and committed offsets that do not move.
    for (const t of running.splice(0)) await t.stop();
    expect(await eventually(members, (n) => n === 0, 60_000)).toBe(0);
    await produce(kafka, names.ingest('crm'), records(40, 20));
    expect(await eventually(crmLag, (n) => n === 20, 30_000)).toBe(20);
    const stalled = await samples(exporting, 'c360_group_committed_offset', group);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await samples(exporting, 'c360_group_committed_offset', group)).toEqual(stalled);
    expect(await crmLag()).toBe(20);
    // The same from the one-off commands, as JSON: the group's lag, and the ledger that says the 20 wait.
    const once = await runCli(['lag', '--namespace', ns, '--json']);
    expect(once.code, once.output).toBe(0);
    const groups = (JSON.parse(once.stdout) as { groups: Array<{ group: string; members: number; lag: number }> }).groups;
    expect(groups.find((g) => g.group === group)).toMatchObject({ members: 0, lag: 20 });
    const ledger = await runCli(['ledger', '--namespace', ns, '--json']);
    expect(ledger.code).toBe(1);
    expect(JSON.parse(ledger.stdout)).toMatchObject({ total: { in: 40, balanced: true }, unprocessed: { records: 20, exact: true } });

    // SIGTERM ends it within the interval.
    exporting.child.kill('SIGTERM');
    expect(await exporting.exited).toEqual({ code: 0, signal: null });
  }, 240_000);
});
