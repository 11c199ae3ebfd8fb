/** One prom-client registry per process, with Node's default metrics; components register their own beside them. */
import fs from 'node:fs';
import path from 'node:path';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { projectRoot, VERSION } from '../contracts/project.js';

let registry: Registry | undefined;

export function metricsRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    registry.setDefaultLabels({ service: 'c360-ingest' });
    collectDefaultMetrics({ register: registry });
    buildInfo(registry).set({ version: VERSION, commit: buildCommit(), node: process.versions.node }, 1);
  }
  return registry;
}

/** Every component's metric set declared so far, so docs/reference.md can list each metric. */
export const METRIC_SETS: Array<(registry: Registry) => unknown> = [];

/**
 * A component's metric set, created once per registry: prom-client refuses a second metric of the
 * same name in one registry, and tests give each component a registry of its own.
 */
export function perRegistry<T>(create: (registry: Registry) => T): (registry: Registry) => T {
  METRIC_SETS.push(create);
  const sets = new WeakMap<Registry, T>();
  return (registry) => {
    let set = sets.get(registry);
    if (set === undefined) sets.set(registry, (set = create(registry)));
    return set;
  };
}

/**
 * The commit this build is from: C360_BUILD_COMMIT (the image sets it from its build argument),
 * else the checkout's HEAD, else "unknown".
 */
function buildCommit(): string {
  if (process.env.C360_BUILD_COMMIT) return process.env.C360_BUILD_COMMIT;
  try {
    const git = path.join(projectRoot(), '.git');
    const head = fs.readFileSync(path.join(git, 'HEAD'), 'utf8').trim();
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    return (ref ? fs.readFileSync(path.join(git, ref), 'utf8').trim() : head).slice(0, 12);
  } catch {
    return 'unknown';
  }
}

const buildInfo = perRegistry(
  (registry) =>
    new Gauge({
      name: 'c360_build_info',
      help: 'Always 1; its labels say which version, commit and Node.js the process runs',
      labelNames: ['version', 'commit', 'node'],
      registers: [registry],
    }),
);
