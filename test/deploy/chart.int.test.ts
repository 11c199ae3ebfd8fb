// The Helm chart as Helm itself lints and renders it (helm-java: Helm 3 embedded, from Maven
// Central). Every rendering is validated against the Kubernetes, KEDA and Prometheus Operator
// schemas; each option is rendered and its effect asserted; bad values are refused by the values
// schema with Helm's message. The kustomize base is the chart's rendering, checked here to be current.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASE_FILE, lintChart, renderBase, renderChart, VALUES_SCHEMA_FILE, valuesSchemaText } from '../../dev/helm/chart.js';
import { projectRoot } from '../../src/contracts/project.js';
import { parseCollectorSettings } from '../../src/extraction/collector/settings.js';
import { loadConnector } from '../../src/extraction/connectors/index.js';
import { config } from '../support/kafka.js';
import { find, invalidObjects, type Manifest, parseManifests, podOf } from '../support/manifests.js';

const render = (values: Record<string, unknown> = {}, release = 'c360') => parseManifests(renderChart(config.home, values, release));
const names = (objects: Manifest[], kind: string) =>
  objects
    .filter((o) => o.kind === kind)
    .map((o) => o.metadata.name)
    .sort();
const SOURCES = ['crm', 'web', 'marketing', 'commerce', 'support', 'enrichment'];

describe('the Helm chart', () => {
  it('passes helm lint --strict', () => {
    const lint = lintChart(config.home);
    expect(lint.ok, lint.messages).toBe(true);
    expect(lint.messages).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('is the one source of the kustomize base and of its values schema (npm run deploy:base)', () => {
    expect(fs.readFileSync(VALUES_SCHEMA_FILE, 'utf8')).toBe(valuesSchemaText());
    expect(fs.readFileSync(BASE_FILE, 'utf8')).toBe(renderBase(config.home));
  });

  it('renders at its defaults every worker kind, KEDA scaling and the Prometheus objects, all valid', () => {
    const objects = render();
    expect(invalidObjects(objects)).toEqual([]);
    expect(names(objects, 'Deployment')).toEqual([
      'c360-checks',
      'c360-collector',
      'c360-connect-support',
      'c360-lag',
      'c360-sink',
      'c360-topology',
      'c360-watch-files',
    ]);
    expect(names(objects, 'ScaledObject')).toEqual(['c360-sink', 'c360-topology']);
    expect(names(objects, 'ServiceMonitor')).toEqual(['c360-ingest']);
    expect(names(objects, 'PodMonitor')).toEqual([]);
    // The setup Job is a Helm hook: Helm runs it before install and upgrade, outside the release's manifest.
    expect(names(objects, 'Job')).toEqual([]);
    const base = parseManifests(fs.readFileSync(BASE_FILE, 'utf8'));
    const job = find(base, 'Job', 'c360-setup')!;
    const annotations = (job.metadata as unknown as { annotations: Record<string, string> }).annotations;
    expect(annotations['argocd.argoproj.io/hook']).toBe('PreSync');
    expect(Object.keys(annotations)).not.toContain('helm.sh/hook');
    // Helm's labels on every object of a release, none in the base kustomize builds on.
    for (const o of objects)
      expect(o.metadata.labels, `${o.kind} ${o.metadata.name}`).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/instance': 'c360' });
    for (const o of base) expect(Object.keys(o.metadata.labels ?? {}), `${o.kind} ${o.metadata.name}`).not.toContain('app.kubernetes.io/managed-by');
  });

  it('without KEDA, gives the scaled workers a fixed count and no ScaledObject', () => {
    const objects = render({ keda: { enabled: false }, topology: { minReplicas: 3 } });
    expect(invalidObjects(objects)).toEqual([]);
    expect(names(objects, 'ScaledObject')).toEqual([]);
    expect(names(objects, 'TriggerAuthentication')).toEqual([]);
    expect((find(objects, 'Deployment', 'c360-topology')!.spec as { replicas: number }).replicas).toBe(3);
    expect((find(objects, 'Deployment', 'c360-sink')!.spec as { replicas: number }).replicas).toBe(2);
    // With KEDA, the Deployments name no count: the HPA owns it.
    expect((find(render(), 'Deployment', 'c360-topology')!.spec as { replicas?: number }).replicas).toBeUndefined();
  });

  it('reads an existing Secret, or makes one from values, and every pod and KEDA read the same', () => {
    const existing = render({ secrets: { existingSecret: 'vault-c360' }, collector: { existingSecret: 'vault-collector' } });
    expect(names(existing, 'Secret')).toEqual([]);
    const made = render({
      secrets: { existingSecret: '', values: { KAFKA_SASL_PASSWORD: 'p', C360_PII_KEY: 'k', KEDA_KAFKA_SASL: 'scram_sha512', KEDA_KAFKA_TLS: 'enable' } },
      collector: { existingSecret: '', settings: { apiKeys: { 'web-key-0123456789abcdef': 'web' } } },
    });
    expect(invalidObjects(made)).toEqual([]);
    expect(names(made, 'Secret')).toEqual(['c360-collector', 'c360-secrets']);
    expect(Object.keys(find(made, 'Secret', 'c360-secrets')!.stringData as Record<string, string>).sort()).toEqual([
      'C360_PII_KEY',
      'KAFKA_SASL_PASSWORD',
      'KEDA_KAFKA_SASL',
      'KEDA_KAFKA_TLS',
    ]);
    const collectorJson = (find(made, 'Secret', 'c360-collector')!.stringData as Record<string, string>)['collector.json']!;
    expect(() => parseCollectorSettings(JSON.parse(collectorJson), SOURCES)).not.toThrow();
    for (const [objects, secret] of [
      [existing, 'vault-c360'],
      [made, 'c360-secrets'],
    ] as const) {
      for (const d of objects.filter((o) => o.kind === 'Deployment')) {
        expect(
          podOf(d).containers[0]!.envFrom.map((e) => e.secretRef?.name ?? e.configMapRef?.name),
          d.metadata.name,
        ).toEqual(['c360-config', secret]);
      }
      const auth = find(objects, 'TriggerAuthentication', 'c360-kafka')!.spec as { secretTargetRef: Array<{ name: string }> };
      expect(new Set(auth.secretTargetRef.map((r) => r.name))).toEqual(new Set([secret]));
    }
  });

  it('runs one Deployment per connector and per landing zone, each with settings c360 accepts', () => {
    const objects = render({
      connectors: [
        {
          name: 'support',
          settings: {
            type: 'rest',
            name: 'tickets',
            source: 'support',
            url: 'https://support.example.com/api/tickets',
            recordsPath: 'tickets',
            pagination: { type: 'page' },
          },
        },
        {
          name: 'crm',
          settings: { type: 'rest', name: 'contacts', source: 'crm', url: 'https://crm.example.com/api/contacts', pagination: { type: 'link' } },
          memoryMb: 512,
        },
      ],
      landingZones: [
        { name: 'sftp', zone: '/landing', existingClaim: 'sftp-home' },
        { name: 'vendors', zone: 's3://vendor-drops/c360' },
        { name: 'uploads', zone: '/uploads', claim: { size: '10Gi', accessModes: ['ReadWriteMany'] } },
      ],
    });
    expect(invalidObjects(objects)).toEqual([]);
    expect(names(objects, 'Deployment')).toEqual([
      'c360-checks',
      'c360-collector',
      'c360-connect-crm',
      'c360-connect-support',
      'c360-lag',
      'c360-sink',
      'c360-topology',
      'c360-watch-sftp',
      'c360-watch-uploads',
      'c360-watch-vendors',
    ]);
    const files = find(objects, 'ConfigMap', 'c360-connectors')!.data as Record<string, string>;
    expect(Object.keys(files).sort()).toEqual(['crm.json', 'support.json']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-chart-'));
    try {
      for (const [file, text] of Object.entries(files)) {
        fs.writeFileSync(path.join(dir, file), text);
        expect(() => loadConnector(path.join(dir, file), {}), file).not.toThrow();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const crm = podOf(find(objects, 'Deployment', 'c360-connect-crm')!).containers[0]!;
    expect(crm.args).toEqual(['connect', '--config', '/etc/c360/connectors/crm.json']);
    expect(crm.env).toEqual([{ name: 'C360_MEMORY_MB', value: '512' }]);
    // A folder zone mounts its claim, made by the chart or existing; a bucket zone mounts nothing.
    const zone = (name: string) => podOf(find(objects, 'Deployment', `c360-watch-${name}`)!);
    expect(zone('sftp').volumes.find((v) => v.name === 'landing')).toEqual({ name: 'landing', persistentVolumeClaim: { claimName: 'sftp-home' } });
    expect(zone('sftp').containers[0]!.args).toEqual(['watch', '/landing']);
    expect(zone('vendors').volumes.map((v) => v.name)).toEqual(['tmp']);
    expect(zone('vendors').containers[0]!.args).toEqual(['watch', 's3://vendor-drops/c360']);
    expect(names(objects, 'PersistentVolumeClaim')).toEqual(['c360-watch-uploads']);
  });

  it('scrapes through a PodMonitor when asked, and refuses both monitors at once in one sentence', () => {
    const objects = render({ monitoring: { serviceMonitor: false, podMonitor: true } });
    expect(invalidObjects(objects)).toEqual([]);
    expect([names(objects, 'ServiceMonitor'), names(objects, 'PodMonitor')]).toEqual([[], ['c360-ingest']]);
    expect(() => render({ monitoring: { podMonitor: true } })).toThrow(/monitoring.serviceMonitor and monitoring.podMonitor are both on/);
  });

  it('links each alert to its runbook section where the docs are published', () => {
    const url = 'https://git.example.com/data/c360-ingest/blob/main/docs/runbooks.md';
    const objects = render({ monitoring: { runbookUrl: url } });
    expect(invalidObjects(objects)).toEqual([]);
    const rules = (
      find(objects, 'PrometheusRule', 'c360-ingest')!.spec as { groups: Array<{ rules: Array<{ alert: string; annotations: Record<string, string> }> }> }
    ).groups.flatMap((g) => g.rules);
    const sections = [...fs.readFileSync(path.join(projectRoot(), 'docs', 'runbooks.md'), 'utf8').matchAll(/^## (\S+)$/gm)].map((m) => m[1]!.toLowerCase());
    expect(rules.map((r) => r.annotations.runbook_url).sort()).toEqual(sections.map((anchor) => `${url}#${anchor}`).sort());
    // Unset, the alerts name no link: a link to nowhere would be worse.
    const plain = (find(render(), 'PrometheusRule', 'c360-ingest')!.spec as { groups: Array<{ rules: Array<{ annotations: Record<string, string> }> }> })
      .groups;
    expect(plain.flatMap((g) => g.rules).filter((r) => r.annotations.runbook_url)).toEqual([]);
  });

  it('mounts a private CA into every worker, the setup Job and KEDA', () => {
    const objects = [...render({ kafkaCa: { existingSecret: 'kafka-ca' } }), ...render({ kafkaCa: { existingSecret: 'kafka-ca' }, kustomizeBase: true })];
    expect(invalidObjects(objects)).toEqual([]);
    expect((find(objects, 'ConfigMap', 'c360-config')!.data as Record<string, string>).KAFKA_SSL_CA_FILE).toBe('/etc/c360/kafka-ca/ca.crt');
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
      const pod = podOf(o);
      expect(
        pod.volumes.find((v) => v.name === 'kafka-ca'),
        o.metadata.name,
      ).toEqual({ name: 'kafka-ca', secret: { secretName: 'kafka-ca' } });
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect(
          c.volumeMounts.map((m) => m.mountPath),
          `${o.metadata.name}/${c.args.join(' ')}`,
        ).toContain('/etc/c360/kafka-ca');
      }
    }
    const auth = find(objects, 'TriggerAuthentication', 'c360-kafka')!.spec as { secretTargetRef: Array<{ parameter: string; name: string }> };
    expect(auth.secretTargetRef.find((r) => r.parameter === 'ca')).toEqual({ parameter: 'ca', name: 'kafka-ca', key: 'ca.crt' });
  });

  it('names objects after the release and groups after the c360 namespace', () => {
    const objects = render({ namespace: 'acme' }, 'crm-prod');
    expect(invalidObjects(objects)).toEqual([]);
    expect(names(objects, 'Deployment')).toContain('crm-prod-topology');
    expect((find(objects, 'ConfigMap', 'crm-prod-config')!.data as Record<string, string>).C360_NAMESPACE).toBe('acme');
    const scaled = find(objects, 'ScaledObject', 'crm-prod-topology')!.spec as { triggers: Array<{ metadata: { consumerGroup: string } }> };
    expect(scaled.triggers[0]!.metadata.consumerGroup).toBe('acme.topology');
    expect(podOf(find(objects, 'Deployment', 'crm-prod-sink')!).serviceAccountName).toBe('crm-prod-ingest');
  });

  it('refuses values its schema does not allow, naming the value', () => {
    for (const [values, message] of [
      [{ config: { KAFKA_BROKER: 'kafka:9092' } }, /invalid propertyName 'KAFKA_BROKER'/],
      [{ config: { C360_NAMESPACE: 'x' } }, /invalid propertyName 'C360_NAMESPACE'/],
      [{ topology: { minReplicas: 0 } }, /\/topology\/minReplicas/],
      [{ landingZones: [{ name: 'Bad_Name', zone: '/x' }] }, /\/landingZones\/0\/name/],
      [{ landingZones: [{ name: 'ftp', zone: 'ftp://host/x' }] }, /\/landingZones\/0\/zone/],
      [{ colector: { replicas: 2 } }, /additional properties 'colector' not allowed/],
    ] as const) {
      expect(() => render(values), JSON.stringify(values)).toThrow(message);
    }
  });
});
