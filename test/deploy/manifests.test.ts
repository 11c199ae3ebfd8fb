// The Kubernetes manifests as a cluster would get them: every overlay rendered by kustomize
// (`kubectl kustomize`, offline), every object validated against the Kubernetes, KEDA and
// Prometheus Operator schemas, and the wiring checked against the code it deploys: probe paths
// and ports, environment names, consumer groups, partition counts, the connector and collector
// settings, and every metric the dashboard and alert rules query.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { envSchema, loadConfig } from '../../src/config.js';
import { projectRoot } from '../../src/contracts/project.js';
import { topicNames } from '../../src/contracts/topic-names.js';
import { parseCollectorSettings } from '../../src/extraction/collector/settings.js';
import { loadConnector } from '../../src/extraction/connectors/index.js';
import { METRIC_SETS } from '../../src/observability/metrics.js';
import { loadTopology } from '../../src/topology/load.js';
import { topicSpecs } from '../../src/topology/topic-specs.js';
import { type Container, find, invalidObjects, type Manifest, parseManifests, podOf } from '../support/manifests.js';

const OVERLAYS = ['local', 'production'];
const deployDir = path.join(projectRoot(), 'deploy', 'kubernetes');

function render(overlay: string): Manifest[] {
  return renderDir(path.join(deployDir, 'overlays', overlay));
}

function renderDir(dir: string): Manifest[] {
  return parseManifests(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' }));
}

/** The keys of c360-secrets that docs/deploying.md lists: what an operator is told to provide. */
function documentedSecretKeys(): Set<string> {
  const doc = fs.readFileSync(path.join(projectRoot(), 'docs', 'deploying.md'), 'utf8');
  const list = /`c360-secrets` \(([^)]*)\)/.exec(doc)![1]!;
  return new Set([...list.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]!));
}

interface KedaAuth {
  secretTargetRef?: Array<{ parameter: string; name: string; key: string }>;
  configMapTargetRef?: Array<{ parameter: string; name: string; key: string }>;
}

describe.each(OVERLAYS)('the %s overlay', (overlay) => {
  const objects = render(overlay);
  const config = find(objects, 'ConfigMap', 'c360-config')!.data as Record<string, string>;

  it('renders only kinds it knows, each valid against its schema', () => {
    expect(invalidObjects(objects)).toEqual([]);
    expect(
      objects
        .filter((o) => o.kind === 'Deployment')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['c360-checks', 'c360-collector', 'c360-connect-support', 'c360-lag', 'c360-sink', 'c360-topology', 'c360-watch-files']);
  });

  it('probes the ops server where it listens, and runs locked down with requests and limits', () => {
    expect(config.C360_HOST ?? '0.0.0.0').toBe('0.0.0.0');
    const opsPort = Number(config.C360_OPS_PORT);
    expect(opsPort).toBe(envSchema.shape.C360_OPS_PORT.parse(undefined));
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      const pod = podOf(d);
      const [c] = pod.containers;
      expect(pod.securityContext.runAsNonRoot, d.metadata.name).toBe(true);
      expect(c!.ports.find((p) => p.name === 'ops')?.containerPort, d.metadata.name).toBe(opsPort);
      expect([c!.startupProbe.httpGet, c!.livenessProbe.httpGet, c!.readinessProbe.httpGet]).toEqual([
        { path: '/healthz', port: 'ops' },
        { path: '/healthz', port: 'ops' },
        { path: '/readyz', port: 'ops' },
      ]);
      expect(c!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(Object.keys(c!.resources.requests).sort()).toEqual(['cpu', 'memory']);
      expect(Object.keys(c!.resources.limits).sort()).toEqual(['cpu', 'memory']);
      // The root filesystem is read-only: C360_HOME (and the sink's spool) must be mounted volumes.
      const mounts = c!.volumeMounts.map((m) => m.mountPath);
      expect(
        mounts.some((m) => config.C360_HOME!.startsWith(m)),
        d.metadata.name,
      ).toBe(true);
      if (d.metadata.name === 'c360-sink') expect(mounts).toContain(config.C360_SPOOL_DIR);
      expect(c!.envFrom.map((e) => e.configMapRef?.name ?? e.secretRef?.name)).toEqual(['c360-config', 'c360-secrets']);
    }
  });

  it('gives every worker a memory budget within its limit, so V8 collects before the kubelet kills', () => {
    const mib = (quantity: string) => {
      const [, n, unit] = /^(\d+)(Mi|Gi)$/.exec(quantity) ?? [];
      return Number(n) * (unit === 'Gi' ? 1024 : 1);
    };
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      const [c] = podOf(d).containers;
      const budget = Number(c!.env?.find((e) => e.name === 'C360_MEMORY_MB')?.value);
      expect(envSchema.shape.C360_MEMORY_MB.parse(String(budget)), d.metadata.name).toBe(budget);
      // Peak RSS measured about budget + 10 % at the smallest budgets (docs/benchmarks.md, Sizing): a quarter of the limit is left for it.
      expect(budget, d.metadata.name).toBeLessThanOrEqual(0.75 * mib(c!.resources.limits.memory!));
      expect(budget, d.metadata.name).toBeGreaterThanOrEqual(0.5 * mib(c!.resources.limits.memory!));
    }
  });

  it('sets only environment variables c360 reads', () => {
    const connectorRefs = Object.values(find(objects, 'ConfigMap', 'c360-connectors')!.data as Record<string, string>).flatMap((json) =>
      [...json.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!),
    );
    const kedaRefs = objects
      .filter((o) => o.kind === 'TriggerAuthentication')
      .flatMap((o) => (o.spec as { secretTargetRef: Array<{ key: string }> }).secretTargetRef.map((r) => r.key));
    const known = new Set([...Object.keys(envSchema.shape), ...connectorRefs, ...kedaRefs, 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']);
    const secret = find(objects, 'Secret', 'c360-secrets');
    const names = [...Object.keys(config), ...Object.keys((secret?.data as Record<string, string>) ?? {})];
    expect(names.filter((n) => !known.has(n))).toEqual([]);
  });

  it('scales each consumer group on its own lag, up to its partitions, through the brokers the workers use', async () => {
    const topology = await loadTopology('customer360');
    const names = topicNames(topology.namespace);
    const partitions = new Map(topicSpecs(topology, loadConfig({}).topics).map((t) => [t.topic, t.numPartitions]));
    const sum = (topics: string[]) => topics.reduce((n, t) => n + partitions.get(t)!, 0);
    const expected = {
      'c360-topology': { group: names.topologyGroup, max: sum(topology.sources.map((s) => names.ingest(s.name))) },
      'c360-sink': { group: names.sinkGroup, max: sum([...topology.sources.map((s) => names.raw(s.name)), names.nearDuplicates, names.deadLetter]) },
    };
    for (const [name, want] of Object.entries(expected)) {
      const scaled = find(objects, 'ScaledObject', name)!.spec as {
        scaleTargetRef: { name: string };
        maxReplicaCount: number;
        triggers: Array<{ type: string; metadata: Record<string, string> }>;
      };
      expect(scaled.scaleTargetRef.name).toBe(name);
      expect(scaled.maxReplicaCount, name).toBe(want.max);
      expect(scaled.triggers[0]).toMatchObject({ type: 'kafka', metadata: { consumerGroup: want.group, bootstrapServers: config.KAFKA_BROKERS } });
      expect(find(objects, 'Deployment', name)).toBeDefined();
    }
  });

  it('reads every Secret key from the documented list and every ConfigMap key from a ConfigMap that has it', () => {
    const documented = documentedSecretKeys();
    const generated = find(objects, 'Secret', 'c360-secrets')?.data as Record<string, string> | undefined;
    for (const auth of objects.filter((o) => o.kind === 'TriggerAuthentication')) {
      const spec = auth.spec as KedaAuth;
      for (const ref of spec.secretTargetRef ?? []) {
        expect(ref.name, ref.parameter).toBe('c360-secrets');
        expect(documented.has(ref.key), `${ref.parameter}: ${ref.key} is not among the documented keys of c360-secrets`).toBe(true);
        // The local overlay generates the Secret: it must hold what KEDA reads.
        if (generated) expect(Object.keys(generated), ref.key).toContain(ref.key);
      }
      for (const ref of spec.configMapTargetRef ?? []) {
        const data = find(objects, 'ConfigMap', ref.name)?.data as Record<string, string> | undefined;
        expect(Object.keys(data ?? {}), `${ref.parameter}: ${ref.name}/${ref.key}`).toContain(ref.key);
      }
      // KEDA's Kafka scaler logs in with a user name and a password when SASL is on.
      const parameters = [...(spec.secretTargetRef ?? []), ...(spec.configMapTargetRef ?? [])].map((r) => r.parameter);
      expect(parameters.sort()).toEqual(['password', 'sasl', 'tls', 'username']);
    }
    if (generated) expect(Object.keys(generated).filter((k) => !documented.has(k))).toEqual([]);
  });

  it('leaves the replicas of KEDA-scaled workers to the HPA, which scales them in one pod at a time', () => {
    for (const scaled of objects.filter((o) => o.kind === 'ScaledObject')) {
      const spec = scaled.spec as {
        scaleTargetRef: { name: string };
        minReplicaCount: number;
        cooldownPeriod?: number;
        advanced?: {
          horizontalPodAutoscalerConfig?: {
            behavior?: { scaleDown?: { stabilizationWindowSeconds: number; policies: Array<{ type: string; value: number }> } };
          };
        };
      };
      const target = find(objects, 'Deployment', spec.scaleTargetRef.name)!;
      // A replica count in the Deployment fights the HPA at every GitOps sync.
      expect((target.spec as { replicas?: number }).replicas, target.metadata.name).toBeUndefined();
      // cooldownPeriod only governs scaling to zero; scale-in is the HPA's behavior.
      if (spec.minReplicaCount > 0) expect(spec.cooldownPeriod, scaled.metadata.name).toBeUndefined();
      const down = spec.advanced?.horizontalPodAutoscalerConfig?.behavior?.scaleDown;
      expect(down?.stabilizationWindowSeconds, scaled.metadata.name).toBeGreaterThanOrEqual(300);
      expect(down?.policies, scaled.metadata.name).toEqual([expect.objectContaining({ type: 'Pods', value: 1 })]);
    }
  });

  it('scrapes the ops port of every worker kind through the ServiceMonitor', () => {
    const monitor = find(objects, 'ServiceMonitor', 'c360-ingest')!.spec as {
      selector: { matchLabels: Record<string, string> };
      endpoints: Array<{ port: string }>;
    };
    const scraped = objects.filter((o) => o.kind === 'Service' && Object.entries(monitor.selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v));
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      const labels = (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
      const service = scraped.find((svc) => {
        const spec = svc.spec as { selector: Record<string, string>; ports: Array<{ name: string }> };
        return Object.entries(spec.selector).every(([k, v]) => labels[k] === v) && spec.ports.some((p) => monitor.endpoints.some((e) => e.port === p.name));
      });
      expect(service, `no scraped Service selects ${d.metadata.name}`).toBeDefined();
    }
  });

  it('runs every pod as the c360-ingest service account, spreads the scaled ones, and sizes init containers', () => {
    expect(find(objects, 'ServiceAccount', 'c360-ingest')).toBeDefined();
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
      const pod = podOf(o);
      expect(pod.serviceAccountName, o.metadata.name).toBe('c360-ingest');
      for (const c of pod.initContainers ?? []) expect(Object.keys(c.resources?.limits ?? {}).sort(), `${o.metadata.name} init`).toEqual(['cpu', 'memory']);
    }
    const scaled = new Set(objects.filter((o) => o.kind === 'ScaledObject').map((o) => (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name));
    for (const d of objects.filter((o) => o.kind === 'Deployment' && (scaled.has(o.metadata.name) || Number((o.spec as { replicas?: number }).replicas) > 1))) {
      const keys = (podOf(d).topologySpreadConstraints ?? []).map((t) => t.topologyKey).sort();
      expect(keys, d.metadata.name).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    }
  });

  it('creates topics and registers schemas in a Job before the workers, which do not create topics themselves', () => {
    const job = find(objects, 'Job', 'c360-setup')!.spec as { template: { spec: { initContainers: Container[]; containers: Container[] } } };
    expect([...job.template.spec.initContainers, ...job.template.spec.containers].map((c) => c.args)).toEqual([
      ['topics', 'create'],
      ['schemas', 'register'],
    ]);
    expect(config.C360_CREATE_TOPICS).toBe(overlay === 'local' ? 'true' : 'false');
  });

  it('mounts settings files that c360 accepts', () => {
    const connectors = find(objects, 'ConfigMap', 'c360-connectors')!.data as Record<string, string>;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-manifests-'));
    try {
      for (const [file, json] of Object.entries(connectors)) {
        fs.writeFileSync(path.join(dir, file), json);
        expect(() => loadConnector(path.join(dir, file), { SUPPORT_API_TOKEN: 'x' }), file).not.toThrow();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const connect = podOf(find(objects, 'Deployment', 'c360-connect-support')!);
    expect(connect.containers[0]!.args).toEqual(['connect', '--config', '/etc/c360/connectors/support.json']);
    const collector = podOf(find(objects, 'Deployment', 'c360-collector')!);
    expect(collector.volumes.find((v) => v.secret)?.secret?.secretName).toBe('c360-collector');
    const settings = find(objects, 'Secret', 'c360-collector');
    if (settings) {
      const json = Buffer.from((settings.data as Record<string, string>)['collector.json']!, 'base64').toString();
      expect(() => parseCollectorSettings(JSON.parse(json), ['crm', 'web', 'marketing', 'commerce', 'support', 'enrichment'])).not.toThrow();
    }
  });
});

describe('the kafka-private-ca component', () => {
  it('gives the workers, the setup Job and KEDA the CA of c360-kafka-ca', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-private-ca-'));
    try {
      const rel = (to: string) => path.relative(dir, path.join(deployDir, to));
      fs.writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        `resources:\n  - ${rel('overlays/production')}\ncomponents:\n  - ${rel('components/kafka-private-ca')}\n`,
      );
      const objects = renderDir(dir);
      const config = find(objects, 'ConfigMap', 'c360-config')!.data as Record<string, string>;
      expect(Object.keys(envSchema.shape)).toContain('KAFKA_SSL_CA_FILE');
      expect(config.KAFKA_SSL_CA_FILE).toBe('/etc/c360/kafka-ca/ca.crt');
      const auth = find(objects, 'TriggerAuthentication', 'c360-kafka')!.spec as KedaAuth;
      expect(auth.secretTargetRef).toContainEqual({ parameter: 'ca', name: 'c360-kafka-ca', key: 'ca.crt' });
      for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
        const pod = podOf(o);
        expect(pod.volumes, o.metadata.name).toContainEqual({ name: 'kafka-ca', secret: { secretName: 'c360-kafka-ca' } });
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          expect(c.volumeMounts, o.metadata.name).toContainEqual({ name: 'kafka-ca', mountPath: path.dirname(config.KAFKA_SSL_CA_FILE!), readOnly: true });
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the local overlay', () => {
  const objects = render('local');
  const config = find(objects, 'ConfigMap', 'c360-config')!.data as Record<string, string>;
  const secrets = find(objects, 'Secret', 'c360-secrets')!.data as Record<string, string>;
  const secret = (key: string) => Buffer.from(secrets[key]!, 'base64').toString('utf8');

  /** The pod behind `host:port` from a pod in the c360 namespace (or, with `fromElsewhere`, from KEDA's), or why none is. */
  function servedBy(address: string, fromElsewhere = false): Manifest | string {
    const { hostname, port } = new URL(address.includes('://') ? address : `tcp://${address}`);
    const [name, namespace, svc] = hostname.split('.');
    if (fromElsewhere ? namespace !== 'c360' || svc !== 'svc' : (namespace ?? 'c360') !== 'c360')
      return `${hostname} is not a Service name reachable from there`;
    const service = find(objects, 'Service', name!);
    if (!service) return `no Service ${name}`;
    const spec = service.spec as { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string }> };
    const servicePort = spec.ports.find((p) => p.port === Number(port));
    if (!servicePort) return `Service ${name} has no port ${port}`;
    const workload = objects.find(
      (o) =>
        ['StatefulSet', 'Deployment'].includes(o.kind) &&
        Object.entries(spec.selector).every(
          ([k, v]) => (o.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels[k] === v,
        ),
    );
    if (!workload) return `no workload behind Service ${name}`;
    const ports = podOf(workload).containers.flatMap((c) => c.ports);
    return ports.some((p) => p.name === servicePort.targetPort) ? workload : `${workload.metadata.name} has no port ${servicePort.targetPort}`;
  }

  it('points every worker at services that run in the cluster', () => {
    const addresses = {
      KAFKA_BROKERS: config.KAFKA_BROKERS!,
      SCHEMA_REGISTRY_URL: config.SCHEMA_REGISTRY_URL!,
      REDIS_URL: config.REDIS_URL!,
      C360_S3_ENDPOINT: config.C360_S3_ENDPOINT!,
      C360_CATALOG_URL: config.C360_CATALOG_URL!,
      C360_KEY_STORE_URL: secret('C360_KEY_STORE_URL'),
    };
    for (const [key, address] of Object.entries(addresses)) {
      const served = servedBy(address);
      expect(typeof served === 'string' ? served : served.kind, `${key}=${address}`).toBe('StatefulSet');
    }
    for (const scaled of objects.filter((o) => o.kind === 'ScaledObject')) {
      const { bootstrapServers } = (scaled.spec as { triggers: Array<{ metadata: { bootstrapServers: string } }> }).triggers[0]!.metadata;
      const served = servedBy(bootstrapServers, true);
      expect(typeof served === 'string' ? served : served.metadata.name, `${scaled.metadata.name}: ${bootstrapServers}`).toBe('kafka');
    }
  });

  it('has the broker advertise the address the clients bootstrap from, and leaves replicas to it', () => {
    const env = podOf(find(objects, 'StatefulSet', 'kafka')!).containers[0]!.env!;
    const advertised = env.find((e) => e.name === 'KAFKA_ADVERTISED_LISTENERS')!.value!;
    // Clients reconnect to what the broker advertises: an address only the broker's host knows strands every pod.
    expect(advertised).toBe(`PLAINTEXT://${config.KAFKA_BROKERS}`);
    expect(config.C360_REPLICATION_FACTOR).toBeUndefined();
    expect(config.C360_MIN_INSYNC_REPLICAS).toBeUndefined();
    const settings = loadConfig({
      ...config,
      C360_PII_KEY: secret('C360_PII_KEY'),
      C360_KEK: secret('C360_KEK'),
      C360_KEY_STORE_URL: secret('C360_KEY_STORE_URL'),
    });
    expect(settings.topics).toEqual({});
  });
});

describe('the image', () => {
  it('exposes the ports the processes listen on by default', () => {
    const dockerfile = fs.readFileSync(path.join(projectRoot(), 'Dockerfile'), 'utf8');
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)![1]!.split(/\s+/).map(Number).sort();
    expect(exposed).toEqual([envSchema.shape.C360_COLLECTOR_PORT.parse(undefined), envSchema.shape.C360_OPS_PORT.parse(undefined)].sort());
  });
});

describe('dashboard and alert rules', () => {
  // Every metric c360 registers (a histogram also exports _bucket, _sum and _count), and Node's process metrics.
  buildProgram();
  const registry = new Registry();
  for (const create of METRIC_SETS) create(registry);
  const exported = new Set(
    registry.getMetricsAsArray().flatMap((m) => (String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name])),
  );
  const queried = (text: string) => [...text.matchAll(/\b(c360_[a-z0-9_]+|process_[a-z0-9_]+)/g)].map((m) => m[1]!);

  it('the Grafana dashboard queries only metrics c360 exports', () => {
    const dashboard = fs.readFileSync(path.join(projectRoot(), 'deploy', 'helm', 'c360-ingest', 'files', 'grafana-dashboard.json'), 'utf8');
    const names = queried(dashboard);
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !exported.has(n) && !['process_resident_memory_bytes', 'process_cpu_seconds_total'].includes(n))).toEqual([]);
  });

  it('the alert rules query only metrics c360 exports', () => {
    const rules = find(render('production'), 'PrometheusRule', 'c360-ingest')!.spec as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.map((r) => r.alert).sort()).toEqual([
      'C360Collector5xx',
      'C360ConnectorFailing',
      'C360DatasetCheckFailing',
      'C360DeadLetterRateSpike',
      'C360GroupStopped',
      'C360LagGrowing',
      'C360LandingFilesRejected',
      'C360PartitionStalled',
      'C360PoisonRecords',
      'C360SinkPublishFailures',
    ]);
    expect(all.flatMap((r) => queried(r.expr)).filter((n) => !exported.has(n))).toEqual([]);
  });

  it('each alert has its section in docs/runbooks.md', () => {
    const rules = find(render('production'), 'PrometheusRule', 'c360-ingest')!.spec as { groups: Array<{ rules: Array<{ alert: string }> }> };
    const runbooks = fs.readFileSync(path.join(projectRoot(), 'docs', 'runbooks.md'), 'utf8');
    const sections = [...runbooks.matchAll(/^## (\S+)$/gm)].map((m) => m[1]);
    expect(sections.sort()).toEqual(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort());
  });
});
