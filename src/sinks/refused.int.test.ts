// A storage that refuses (S3 answering 403 AccessDenied) is not an outage, and not the records'
// fault. At start it is a setting to fix: the sink does not start, and says why in one sentence.
// While the sink runs (a permission revoked), the sink waits, says so at error level and in
// /readyz, sets nothing aside, and lands every record once the permission is back. A real sink
// process, real Kafka, S3Mock behind a proxy that answers as S3 does without the permission.
import { parquetMetadataAsync } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { S3_URL } from '../../dev/stack/s3.js';
import { S3_BUCKET } from '../../dev/stack/versions.js';
import { type FaultProxy, startFaultProxy } from '../../test/support/fault-proxy.js';
import { eventually, testKafka } from '../../test/support/kafka.js';
import { produce, rawCrmTopic } from '../../test/support/topology.js';
import { opsUrl, spawnSink, type Worker } from '../../test/support/worker.js';
import { S3Store } from '../storage/s3-store.js';

process.env.AWS_ACCESS_KEY_ID ??= 'c360-test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'c360-test';
const kafka = testKafka();
const s3 = new URL(S3_URL);

/** A namespace with its topics, and a way to write CRM profiles straight to its crm raw topic. */
async function rawTopic(): Promise<{ ns: string; write(from: number, n: number): Promise<void> }> {
  const { namespace, topic, messages } = await rawCrmTopic(kafka);
  return { ns: namespace, write: (from, n) => produce(kafka, topic, messages(from, n)) };
}

describe('a sink whose storage refuses', () => {
  let proxy: FaultProxy;
  const sinks: Worker[] = [];
  afterAll(async () => {
    for (const s of sinks) s.child.kill('SIGKILL');
    await proxy?.close();
  });
  const sink = (ns: string) => {
    const w = spawnSink(ns, `s3://${S3_BUCKET}/${ns}`, { C360_S3_ENDPOINT: proxy.url, C360_S3_FORCE_PATH_STYLE: 'true', LOG_LEVEL: 'info' }, [
      '--idle-flush-ms',
      '200',
      '--max-records',
      '10',
    ]);
    sinks.push(w);
    return w;
  };

  it('at start: exits 1 with one sentence naming the refusal, without retrying it', async () => {
    proxy = await startFaultProxy({ host: s3.hostname, port: Number(s3.port) });
    const { ns, write } = await rawTopic();
    await write(0, 1);
    await proxy.set('403');
    const w = sink(ns);
    const exit = await Promise.race([w.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 60_000))]);
    expect(exit).toEqual({ code: 1, signal: null });
    const stderr = w.output().replace(w.stdout(), '');
    expect(stderr).toBe(`c360: list s3://${S3_BUCKET}/${ns}/ answered 403 (AccessDenied); not retried\n`);
    expect(proxy.accepted['403']).toBe(1);
  });

  it('while running: waits on the refusal, says so, quarantines nothing, and lands every record once it is allowed again', async () => {
    await proxy.set('pass');
    const { ns, write } = await rawTopic();
    const w = sink(ns);
    await eventually(
      async () => opsUrl(w),
      (u) => u !== undefined,
    );
    const readyz = async () => {
      const r = await fetch(`${opsUrl(w)}/readyz`);
      return { status: r.status, failures: ((await r.json()) as { failures?: Array<{ check: string; error: string }> }).failures ?? [] };
    };
    expect((await eventually(readyz, (r) => r.status === 200)).status).toBe(200);

    await proxy.set('403');
    await write(0, 25);
    const unready = await eventually(readyz, (r) => r.failures.some((f) => f.check === 'dependencies'), 30_000);
    expect(unready.failures.find((f) => f.check === 'dependencies')!.error).toMatch(/on object-store .*answered 403 \(AccessDenied\); not retried$/);
    const refusal = w
      .stdout()
      .split('\n')
      .find((l) => l.includes('"msg":"a dependency refuses; waiting until it is fixed"'));
    expect(JSON.parse(refusal!)).toMatchObject({ level: 'error', dependency: 'object-store', code: 'dependency.object-store_refused' });
    expect(w.child.exitCode).toBeNull();

    await proxy.set('pass');
    const store = new S3Store({ bucket: S3_BUCKET, prefix: ns, spoolDir: undefined, s3: { endpoint: S3_URL, forcePathStyle: true, timeoutMs: 30_000 } });
    // Each partition publishes its own file once the store allows it: wait until their rows add up to all 25, not for
    // a number of files, which the partitions' shares decide. A record landed twice would make the sum pass 25.
    const landed = async () => {
      const keys = (await store.list('')).filter((k) => k.endsWith('.parquet'));
      const rows = await Promise.all(keys.map(async (k) => Number((await parquetMetadataAsync(new Uint8Array(await store.read(k)).buffer)).num_rows)));
      return { keys, rows: rows.reduce((a, b) => a + b, 0) };
    };
    const { keys, rows } = await eventually(landed, (l) => l.rows >= 25);
    // 25 records in files of at most 10 (their partitions' shares), all in raw: none set aside.
    expect(keys.length).toBeGreaterThanOrEqual(3);
    expect(keys.every((k) => k.startsWith('raw/source=crm/'))).toBe(true);
    expect(rows).toBe(25);
    expect(w.output()).not.toContain('record set aside into quarantine');
    expect((await eventually(readyz, (r) => r.status === 200)).status).toBe(200);
  });
});
