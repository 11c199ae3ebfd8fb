// Dataset checks against the real ledger topic: five weeks of hourly ledger entries written with
// their own timestamps, then `c360 checks` reads them back from four weeks and an hour ago, gives
// its verdict per source (and exit 1), and `c360 checks --serve` exports the same as metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafka } from '../../test/support/kafka.js';
import { testNamespace } from '../../test/support/topology.js';
import { opsUrl, runCli, spawnCli, type Worker } from '../../test/support/worker.js';
import type { LedgerEntry } from '../contracts/ledger.js';
import { topicNames } from '../contracts/topic-names.js';

const HOUR = 3_600_000;
const kafka = testKafka();

describe('c360 checks: dataset checks from the ledger', () => {
  const ns = testNamespace();
  const names = topicNames(ns);
  const checked = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  let serving: Worker | undefined;

  const entry = (source: string, at: number, n: number): LedgerEntry => ({
    source,
    topic: names.ingest(source),
    partition: 0,
    first_offset: 0,
    last_offset: n - 1,
    in: n,
    raw: n,
    duplicates: 0,
    dead_letter: 0,
    suppressed: 0,
    near_duplicates: 0,
    errors: {},
    committed_at: new Date(at + 10 * 60_000).toISOString(),
  });

  beforeAll(async () => {
    expect((await runCli(['topics', 'create', '--namespace', ns])).code).toBe(0);
    const producer = kafka.producer();
    await producer.connect();
    const messages = [];
    for (let t = checked - 35 * 24 * HOUR; t <= checked; t += HOUR) {
      for (const source of ['crm', 'web']) {
        // web halves in the hour checked; crm keeps its pace, but its profiles lose their email far more often.
        const e = entry(source, t, t === checked && source === 'web' ? 500 : 1000);
        if (source === 'crm') e.events = { CustomerProfile: { records: 1000, nulls: { email: t === checked ? 300 : 10 }, properties: {} } };
        messages.push({ key: source, value: JSON.stringify(e), timestamp: String(Date.parse(e.committed_at)) });
      }
    }
    await producer.send({ topic: names.ledger, messages });
    await producer.disconnect();
  });

  afterAll(() => serving?.child.kill('SIGKILL'));

  it("prints each source's verdict for the last hour, and exits 1 when one fails", async () => {
    const run = await runCli(['checks', '--namespace', ns, '--json']);
    expect(run.code, run.output).toBe(1);
    type Check = { check: string; failing: boolean; detail: string };
    const { verdicts } = JSON.parse(run.stdout) as {
      verdicts: Array<{
        source: string;
        records: number;
        learning: boolean;
        checks: Check[];
        events: Array<{ event: string; records: number; checks: Check[] }>;
      }>;
    };
    const failing = (checks: Check[]) => checks.filter((c) => c.failing).map((c) => c.check);
    expect(verdicts.map((v) => [v.source, v.records, v.learning, failing(v.checks)])).toEqual([
      ['crm', 1000, false, []],
      ['web', 500, false, ['volume_low']],
    ]);
    expect(verdicts[0]!.events.map((e) => [e.event, e.records, failing(e.checks)])).toEqual([['CustomerProfile', 1000, ['null_share']]]);
    expect(verdicts[0]!.events[0]!.checks.find((c) => c.check === 'null_share')!.detail).toBe('email null in 30.0 %, at most 1.0 % before');
    expect(verdicts[1]!.events).toEqual([]);
    expect(run.stderr).toBe('');
    const text = await runCli(['checks', '--namespace', ns]);
    expect(text.stdout).toContain('  CustomerProfile: null_share: email null in 30.0 %, at most 1.0 % before');
  });

  it('exports the same with --serve, and stops on SIGTERM', async () => {
    serving = spawnCli(['checks', '--namespace', ns, '--serve', '--interval', '1000', '--ops-port', '0'], { LOG_LEVEL: 'info' });
    let metrics = '';
    const deadline = Date.now() + 60_000;
    while (!/^c360_dataset_check_failing\{source="web",check="volume_low"[^}]*\} 1$/m.test(metrics)) {
      if (Date.now() > deadline) throw new Error(`no failing check exported: ${serving.output().slice(-3000)}`);
      const url = opsUrl(serving);
      metrics = url ? ((await (await fetch(`${url}/metrics`).catch(() => undefined))?.text()) ?? '') : '';
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(metrics).toMatch(/^c360_dataset_check_failing\{source="crm",check="volume_low",event=""[^}]*\} 0$/m);
    expect(metrics).toMatch(/^c360_dataset_check_failing\{source="crm",check="null_share",event="CustomerProfile"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^c360_dataset_event_hour_records\{source="crm",event="CustomerProfile"[^}]*\} 1000$/m);
    expect(metrics).toMatch(/^c360_dataset_hour_records\{source="web"[^}]*\} 500$/m);
    serving.child.kill('SIGTERM');
    expect(await serving.exited).toMatchObject({ code: 0, signal: null });
  });
});
