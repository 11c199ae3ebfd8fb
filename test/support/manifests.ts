/**
 * Rendered Kubernetes manifests as the tests read them: parsed, validated against the Kubernetes,
 * KEDA and Prometheus Operator schemas (kubernetes-models), and looked up by kind and name.
 */
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [key: string]: unknown };

const MODELS: Record<string, { validate(): void } extends never ? never : new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/Namespace': Namespace,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'networking.k8s.io/v1/Ingress': Ingress,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/** Every object of a multi-document YAML rendering. */
export function parseManifests(text: string): Manifest[] {
  const objects = parseAllDocuments(text)
    .map((d) => d.toJSON() as Manifest | null)
    .filter((o): o is Manifest => o !== null);
  // kustomize folds a generated Secret's base64 over lines, which the API server reads as one; the schema wants it unfolded.
  for (const o of objects.filter((x) => x.kind === 'Secret' && x.data)) {
    for (const [k, v] of Object.entries(o.data as Record<string, string>)) (o.data as Record<string, string>)[k] = v.replace(/\s+/g, '');
  }
  return objects;
}

/** The objects whose kind the schemas do not know, or that fail their schema: each as "Kind name: why". */
export function invalidObjects(objects: Manifest[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    if (!Model) problems.push(`${o.apiVersion}/${o.kind} ${o.metadata.name}: no schema`);
    else
      try {
        new Model(o as never).validate();
      } catch (err) {
        problems.push(`${o.kind} ${o.metadata.name}: ${String(err).slice(0, 300)}`);
      }
  }
  return problems;
}

export const find = (objects: Manifest[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

export interface Container {
  args: string[];
  ports: Array<{ name: string; containerPort: number }>;
  envFrom: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  env?: Array<{ name: string; value?: string }>;
  startupProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean; capabilities: { drop: string[] } };
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
export interface PodSpec {
  serviceAccountName?: string;
  topologySpreadConstraints?: Array<{ topologyKey: string; whenUnsatisfiable: string; labelSelector: { matchLabels: Record<string, string> } }>;
  initContainers?: Container[];
  terminationGracePeriodSeconds: number;
  securityContext: { runAsNonRoot: boolean };
  containers: Container[];
  volumes: Array<{ name: string; secret?: { secretName: string }; configMap?: { name: string } }>;
}
export const podOf = (d: Manifest) => (d.spec as { template: { spec: PodSpec } }).template.spec;
