// A storage that refuses (S3 answering 403) is not an outage: the sink must stop with one sentence
// instead of retrying until someone notices. A real sink process, real Kafka, and a loopback server
// answering as S3 does when credentials lack the permission.
import { describe, expect, it } from 'vitest';
import { crmProfile } from '../../test/fixtures/records.js';
import { useScriptedServer } from '../../test/support/http.js';
import { config, testKafka } from '../../test/support/kafka.js';
import { produce, testNamespace } from '../../test/support/topology.js';
import { spawnSink } from '../../test/support/worker.js';
import { frame } from '../contracts/framing.js';
import { HEADER } from '../contracts/lineage.js';
import { topicNames } from '../contracts/topics.js';
import { loadSchema } from '../schema/avro.js';
import { compilePrimaryEntity } from '../schema/entity.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';
import { loadTopology } from '../topology/load.js';
import { createTopologyTopics, registerTopologySchemas } from '../topology/setup.js';

const accessDenied = {
  status: 403,
  headers: { 'content-type': 'application/xml' },
  body: '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
};

describe('a sink whose storage refuses', () => {
  const s3 = useScriptedServer();

  it('exits 1 with one sentence naming the refusal, without retrying it', async () => {
    s3.answers = [accessDenied];
    const ns = testNamespace();
    const kafka = testKafka();
    const topology = await loadTopology('customer360', { namespace: ns });
    await createTopologyTopics(kafka, topology, config.topics);
    await registerTopologySchemas(createSchemaRegistry(config), topology, topology.sources.map(compilePrimaryEntity));
    // Raw records written straight, not through the topology: in plain, under a schema of their own (the raw subject's is the encrypted one).
    const plainId = await registerAvro(createSchemaRegistry(config), `${ns}.plain-CustomerProfile`, loadSchema('CustomerProfile').schema);
    const value = { ...crmProfile, customer_id: 'C-1', birth_date: 7395, updated_at: Date.UTC(2026, 10, 1) };
    await produce(kafka, topicNames(ns).raw('crm'), [
      {
        key: 'C-1',
        value: frame(plainId, loadSchema('CustomerProfile').type.toBuffer(value)),
        headers: { [HEADER.ingestId]: 'id-1', [HEADER.source]: 'crm', [HEADER.receivedAt]: '2026-11-27T10:00:00.000Z' },
      },
    ]);

    const sink = spawnSink(
      ns,
      's3://c360-raw/layer',
      { C360_S3_ENDPOINT: s3.url, C360_S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', LOG_LEVEL: 'info' },
      ['--idle-flush-ms', '200'],
    );
    const exit = await Promise.race([sink.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 60_000))]);
    if (exit === 'still running') sink.child.kill('SIGKILL');
    expect(exit).toEqual({ code: 1, signal: null });
    const crash = sink
      .output()
      .split('\n')
      .find((l) => l.includes('"msg":"sink consumer crashed"'));
    expect(JSON.parse(crash!)).toMatchObject({ level: 'error', restart: false });
    expect(JSON.parse(crash!).err).toMatch(
      /^list s3:\/\/c360-raw\/layer\/raw\/source=crm\/entity=CustomerProfile\/date=2026-11-27\/\S+ answered 403 \(AccessDenied\); not retried$/,
    );
    // One attempt per refused call, not a retry loop: the sink lists its folder once, is refused, and stops.
    expect(s3.requests.length).toBeLessThanOrEqual(2);
  });
});
