// One event's whole path as one trace: a client with a traceparent posts it to the collector, the
// topology checks it, the sink lands it; each process exports its spans over OTLP/HTTP (JSON) to
// a receiver here, and the spans must chain, parent to child, under the client's trace.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { variant, webEvent } from '../../test/fixtures/records.js';
import { collect, eventually, testKafka } from '../../test/support/kafka.js';
import { testNamespace } from '../../test/support/topology.js';
import { spawnCli, spawnCollector, spawnSink, spawnWorker, type Worker } from '../../test/support/worker.js';
import { HEADER } from '../contracts/lineage.js';
import { topicNames } from '../contracts/topic-names.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}
interface ReceivedSpan extends OtlpSpan {
  service: string;
}

/** An OTLP/HTTP receiver for JSON-encoded traces, as an OpenTelemetry Collector's otlp receiver takes them on /v1/traces. */
class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly requests: Array<{ path: string; contentType: string | undefined; authorization: string | undefined }> = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.requests.push({ path: req.url ?? '', contentType: req.headers['content-type'], authorization: req.headers.authorization });
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: Array<{
          resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
          scopeSpans: Array<{ spans: OtlpSpan[] }>;
        }>;
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const s of ss.spans) this.spans.push({ ...s, service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const attribute = (s: OtlpSpan, key: string) => Object.values(s.attributes.find((a) => a.key === key)?.value ?? {})[0];

const kafka = testKafka();
const WEB_KEY = 'web-key-0123456789abcdef';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-trace-'));
const settingsFile = path.join(dir, 'collector.json');
fs.writeFileSync(settingsFile, JSON.stringify({ apiKeys: { [WEB_KEY]: 'web' } }));
// The client's own span: the trace the event arrives in.
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

describe('traces: one event through collector, topology and sink is one trace', () => {
  const receiver = new OtlpReceiver();
  const workers: Worker[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: await receiver.listen(),
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20otlp-test-token',
      LOG_LEVEL: 'info',
    };
  });

  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('chains the collector, topology and sink spans under the caller’s traceparent, and exports them on SIGTERM', async () => {
    const ns = testNamespace();
    const names = topicNames(ns);
    const collector = await spawnCollector(ns, settingsFile, env);
    workers.push(collector.worker);
    const worker = spawnWorker(ns, env);
    const sink = spawnSink(ns, path.join(dir, 'layer'), env, ['--idle-flush-ms', '200']);
    workers.push(worker, sink);

    const posted = await fetch(`${collector.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': WEB_KEY, traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` },
      body: JSON.stringify(variant(webEvent, { event_id: 'traced-1' })),
    });
    expect(posted.status).toBe(200);
    const [raw] = await collect(kafka, names.raw('web'), (s) => s.length === 1);
    expect(raw!.headers![HEADER.traceparent]!.toString()).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    // Landed, so the sink's span is made: then each process stops as a pod does, and sends what it has.
    await eventually(
      async () => fs.readdirSync(path.join(dir, 'layer'), { recursive: true }).filter((f) => String(f).endsWith('.parquet')),
      (files) => files.length > 0,
      60_000,
    );
    for (const w of [collector.worker, worker, sink]) w.child.kill('SIGTERM');
    for (const w of [collector.worker, worker, sink]) expect((await w.exited).code, w.output().slice(-1000)).toBe(0);

    const trace = receiver.spans.filter((s) => s.traceId === TRACE_ID);
    const byService = (service: string) => trace.filter((s) => s.service === service);
    expect(trace.map((s) => s.service).sort()).toEqual(['c360-collect', 'c360-run', 'c360-sink']);
    const [received] = byService('c360-collect');
    const [processed] = byService('c360-run');
    const [landed] = byService('c360-sink');
    // SERVER 2, CONSUMER 5 (OTLP's SpanKind numbering).
    expect(received).toMatchObject({ name: 'POST /v1/events', kind: 2, parentSpanId: CLIENT_SPAN });
    expect(attribute(received!, 'http.response.status_code')).toBe(200);
    expect(processed).toMatchObject({ name: `process ${names.ingest('web')}`, kind: 5, parentSpanId: received!.spanId });
    expect(attribute(processed!, 'c360.route')).toBe('raw');
    expect(landed).toMatchObject({ name: expect.stringMatching(/^land raw\//), kind: 5, parentSpanId: processed!.spanId });
    // The raw record carries the topology's span: the next hop's parent.
    expect(raw!.headers![HEADER.traceparent]!.toString()).toBe(`00-${TRACE_ID}-${processed!.spanId}-01`);
    // Every export went to the configured receiver's traces path, as JSON, with the configured header.
    expect(new Set(receiver.requests.map((r) => `${r.path} ${r.contentType} ${r.authorization}`))).toEqual(
      new Set(['/v1/traces application/json Bearer otlp-test-token']),
    );
  });

  it('makes a file one trace: its ingest span, and under it each row checked and landed', async () => {
    const ns = testNamespace();
    const names = topicNames(ns);
    const worker = spawnWorker(ns, env);
    const sink = spawnSink(ns, path.join(dir, 'files-layer'), env, ['--idle-flush-ms', '200']);
    workers.push(worker, sink);
    const file = path.join(dir, 'events.ndjson');
    fs.writeFileSync(file, ['f-1', 'f-2', 'f-3'].map((id) => JSON.stringify(variant(webEvent, { event_id: id }))).join('\n'));
    const ingest = spawnCli(['ingest', file, '--source', 'web', '--namespace', ns], env);
    expect((await ingest.exited).code, ingest.output()).toBe(0);
    await collect(kafka, names.raw('web'), (s) => s.length === 3);
    await eventually(
      async () => fs.readdirSync(path.join(dir, 'files-layer'), { recursive: true }).filter((f) => String(f).endsWith('.parquet')),
      (files) => files.length > 0,
      60_000,
    );
    for (const w of [worker, sink]) w.child.kill('SIGTERM');
    for (const w of [worker, sink]) expect((await w.exited).code, w.output().slice(-1000)).toBe(0);

    const [root] = receiver.spans.filter((s) => s.service === 'c360-ingest' && s.name === 'ingest file');
    expect(root).toMatchObject({ kind: 4 }); // PRODUCER
    expect(root!.parentSpanId ?? '').toBe('');
    const trace = receiver.spans.filter((s) => s.traceId === root!.traceId);
    const processed = trace.filter((s) => s.service === 'c360-run');
    const landed = trace.filter((s) => s.service === 'c360-sink');
    expect(processed).toHaveLength(3);
    expect(new Set(processed.map((s) => s.parentSpanId))).toEqual(new Set([root!.spanId]));
    expect(landed).toHaveLength(3);
    expect(new Set(landed.map((s) => s.parentSpanId))).toEqual(new Set(processed.map((s) => s.spanId)));
    expect(trace).toHaveLength(7);
  });
});
