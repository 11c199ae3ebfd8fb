// Topic configuration and schema evolution as a CI pipeline checks them: `c360 topics check` finds
// drift and `topics create` fixes what it can and names what it cannot; `c360 schemas check`
// refuses a schema its subject's compatibility level forbids, with the reason, and `schemas
// register` sets the level. Real Kafka, registry and CLI processes.
import { describe, expect, it } from 'vitest';
import { config, testKafka } from '../../test/support/kafka.js';
import { testNamespace } from '../../test/support/topology.js';
import { runCli, spawnCli } from '../../test/support/worker.js';
import { topicNames } from '../contracts/topic-names.js';
import { loadSchema } from '../schema/avro.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';

const kafka = testKafka();

describe('topics as code', () => {
  it('check reports drift and exits 1; create fixes what it can, names what it cannot, and check agrees', async () => {
    const ns = testNamespace();
    const names = topicNames(ns);
    const missing = await runCli(['topics', 'check', '--namespace', ns]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain(`${names.ingest('crm')}: missing\n`);

    // No replication variable is set: the topics take the broker's default.replication.factor and min.insync.replicas.
    expect(process.env.C360_REPLICATION_FACTOR ?? process.env.C360_MIN_INSYNC_REPLICAS).toBeUndefined();
    expect((await runCli(['topics', 'create', '--namespace', ns])).code).toBe(0);
    expect(await runCli(['topics', 'check', '--namespace', ns])).toMatchObject({ code: 0, stdout: 'every topic matches the topology\n' });
    expect(await runCli(['topics', 'check', '--namespace', ns, '--json'])).toMatchObject({ code: 0, stdout: '{"drift":[]}\n' });
    const admin = kafka.admin();
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({ topics: [names.ingest('crm'), names.ledger] });
    expect(topics.flatMap((t) => t.partitions.map((p) => p.replicas.length))).toEqual(topics.flatMap((t) => t.partitions.map(() => 1)));
    const [ingestConfig] = (await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: names.ingest('crm') }] })).resources;
    expect(ingestConfig!.configEntries.find((c) => c.configName === 'min.insync.replicas')).toMatchObject({ configValue: '1' });
    expect(ingestConfig!.configEntries.find((c) => c.configName === 'min.insync.replicas')!.configSource).not.toBe(1);

    // Someone changes the cluster: a shorter retention, one more partition, a deleted topic.
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: 2,
          name: names.deadLetter,
          configEntries: [
            { name: 'retention.ms', value: '3600000' },
            { name: 'min.insync.replicas', value: '1' },
          ],
        },
      ],
    });
    await admin.createPartitions({ topicPartitions: [{ topic: names.raw('web'), count: 4 }] });
    await admin.deleteTopics({ topics: [names.ledger] });
    await admin.disconnect();

    const drifted = await runCli(['topics', 'check', '--namespace', ns]);
    expect(drifted.code).toBe(1);
    const driftJson = await runCli(['topics', 'check', '--namespace', ns, '--json']);
    expect(driftJson.code).toBe(1);
    expect((JSON.parse(driftJson.stdout) as { drift: Array<Record<string, unknown>> }).drift).toContainEqual({
      topic: names.deadLetter,
      setting: 'retention.ms',
      want: '2592000000',
      have: '3600000',
      fixable: true,
    });
    expect(drifted.stdout.split('\n').filter(Boolean).sort()).toEqual(
      [
        `${names.deadLetter}: retention.ms should be 2592000000 (is 3600000)`,
        `${names.ledger}: missing`,
        `${names.raw('web')}: partitions should be 3 (is 4): Kafka cannot remove partitions: recreate the topic (and its data) to have fewer`,
        '3 difference(s) from the topology',
      ].sort(),
    );

    const fixed = await runCli(['topics', 'create', '--namespace', ns]);
    expect(fixed.code).toBe(1);
    expect(fixed.stdout).toContain(`${names.deadLetter}: retention.ms set to 2592000000 (was 3600000)`);
    const after = await runCli(['topics', 'check', '--namespace', ns]);
    expect(after.stdout.split('\n').filter(Boolean)).toEqual([
      `${names.raw('web')}: partitions should be 3 (is 4): Kafka cannot remove partitions: recreate the topic (and its data) to have fewer`,
      '1 difference(s) from the topology',
    ]);
  });

  it('refuses a replication factor over the broker count in one sentence, before creating anything', async () => {
    const ns = testNamespace();
    const w = spawnCli(['topics', 'create', '--namespace', ns], { C360_REPLICATION_FACTOR: '3', C360_MIN_INSYNC_REPLICAS: '2' });
    expect((await w.exited).code).toBe(2);
    expect(w.output()).toMatch(/^c360: C360_REPLICATION_FACTOR is 3, but the cluster has 1 broker: set it \(and C360_MIN_INSYNC_REPLICAS\) to at most 1/m);
    expect((await runCli(['topics', 'check', '--namespace', ns])).stdout).toContain(`${topicNames(ns).ingest('crm')}: missing`);
  });
});

describe('schema evolution', () => {
  it('check passes new subjects, register sets BACKWARD, and a breaking change is refused with its reason', async () => {
    const ns = testNamespace();
    const names = topicNames(ns);
    const fresh = await runCli(['schemas', 'check', '--namespace', ns]);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain(`${names.ingest('crm')}-value: new subject`);

    const registered = await runCli(['schemas', 'register', '--namespace', ns, '--json']);
    expect(registered.code, registered.output).toBe(0);
    expect(JSON.parse(registered.stdout)).toMatchObject({ level: 'BACKWARD', registered: true });
    expect((JSON.parse(registered.stdout) as { subjects: Array<{ subject: string; outcome: string }> }).subjects).toContainEqual({
      subject: `${names.ingest('crm')}-value`,
      outcome: 'new',
    });
    const level = await (await fetch(`${config.schemaRegistry.url}/config/${names.ingest('crm')}-value`)).json();
    expect(level).toEqual({ compatibilityLevel: 'BACKWARD' });
    expect((await runCli(['schemas', 'check', '--namespace', ns])).stdout).toContain(`${names.ingest('crm')}-value: compatible`);

    // A producer's team registered a later CustomerProfile without email (BACKWARD allows dropping a field):
    // the contract's version requires email, with no default, so it cannot read that producer's data.
    const later = structuredClone(loadSchema('CustomerProfile').schema) as { fields: Array<Record<string, unknown>> };
    later.fields = later.fields.filter((f) => f.name !== 'email');
    await registerAvro(createSchemaRegistry(config), `${names.ingest('crm')}-value`, later);
    const broken = await runCli(['schemas', 'check', '--namespace', ns]);
    expect(broken.code).toBe(1);
    const brokenJson = await runCli(['schemas', 'check', '--namespace', ns, '--json']);
    expect(brokenJson.code).toBe(1);
    const report = JSON.parse(brokenJson.stdout) as { level: string; subjects: Array<{ subject: string; outcome: string; reason?: string }> };
    expect(report.level).toBe('BACKWARD');
    expect(report.subjects.find((c) => c.subject === `${names.ingest('crm')}-value`)).toMatchObject({
      outcome: 'incompatible',
      reason: expect.stringMatching(/^the new schema cannot read data written with the latest version/),
    });
    expect(report.subjects.filter((c) => c.outcome === 'incompatible')).toHaveLength(1);
    expect(broken.output).toMatch(
      /^c360: t[0-9a-f]{8}\.ingest\.crm-value is not BACKWARD-compatible with its latest version: the new schema cannot read data written with the latest version: /m,
    );
  });
});
