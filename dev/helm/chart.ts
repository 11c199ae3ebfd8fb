/**
 * The Helm chart (deploy/helm/c360-ingest) linted and rendered by Helm itself, through helm-java
 * from Maven Central (no helm binary installs here). The chart is the one source of the Kubernetes
 * manifests: `npm run deploy:base` renders it into the kustomize base the overlays build on
 * (deploy/kubernetes/base/c360-ingest.yaml), and test/deploy/chart.int.test.ts checks the two agree.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { projectRoot } from '../../src/contracts/project.js';
import { mavenFetch } from '../stack/maven.js';
import { stackPaths } from '../stack/paths.js';
import { requireJava } from '../stack/prerequisites.js';
import { valuesSchema } from './values-schema.js';

const CHART_DIR = path.join(projectRoot(), 'deploy', 'helm', 'c360-ingest');
export const BASE_FILE = path.join(projectRoot(), 'deploy', 'kubernetes', 'base', 'c360-ingest.yaml');
export const VALUES_SCHEMA_FILE = path.join(CHART_DIR, 'values.schema.json');
/** The release the kustomize base is rendered as: its objects are named c360-<part>. */
const BASE_RELEASE = 'c360';
/** What differs in the base: no Helm labels, and the setup Job a plain Job (helm-java's template leaves hooks out). */
const BASE_VALUES = { kustomizeBase: true };
const HELM_JAVA_VERSION = '0.0.21';

function helmClasspath(home: string): string {
  requireJava();
  const libs = path.join(stackPaths(home).cache, `helm-java-${HELM_JAVA_VERSION}`);
  mavenFetch(libs, 'copy-dependencies', { 'helm-java.version': HELM_JAVA_VERSION, includeScope: 'runtime' }, `helm-java ${HELM_JAVA_VERSION}`, 'helm/pom.xml');
  return `${libs}/*`;
}

function helm(home: string, args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const tool = path.join(projectRoot(), 'dev', 'helm', 'HelmTool.java');
  const r = spawnSync('java', ['-Xmx256m', '-XX:+UseSerialGC', '-cp', helmClasspath(home), tool, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 180_000,
  });
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr };
}

/** `helm lint --strict` of the chart: Helm's messages, and whether it passed. */
export function lintChart(home: string): { ok: boolean; messages: string } {
  const r = helm(home, ['lint', CHART_DIR]);
  return { ok: r.ok, messages: `${r.stdout}${r.stderr}`.trim() };
}

/** `helm template` of the chart with these values over its defaults; throws with Helm's message when it refuses them. */
export function renderChart(home: string, values: Record<string, unknown> = {}, release = 'c360'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-helm-'));
  try {
    const file = path.join(dir, 'values.yaml');
    fs.writeFileSync(file, stringify(values));
    const r = helm(home, ['template', CHART_DIR, release, file]);
    if (!r.ok) throw new Error(r.stderr.trim() || r.stdout.trim());
    return r.stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The kustomize base: the chart at its defaults, rendered for kustomize. */
export function renderBase(home: string): string {
  return `# Generated from deploy/helm/c360-ingest by \`npm run deploy:base\`: edit the chart, not this file.\n${renderChart(home, BASE_VALUES, BASE_RELEASE)}`;
}

/** values.schema.json as dev/helm/values-schema.ts makes it. */
export const valuesSchemaText = () => `${JSON.stringify(valuesSchema(), null, 2)}\n`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // The schema first: Helm checks the values against it while it renders.
  fs.writeFileSync(VALUES_SCHEMA_FILE, valuesSchemaText());
  fs.writeFileSync(BASE_FILE, renderBase(loadConfig().home));
  for (const file of [VALUES_SCHEMA_FILE, BASE_FILE]) console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
