/** One prom-client registry per process, with Node's default metrics; components register their own beside them. */
import { collectDefaultMetrics, Registry } from 'prom-client';

let registry: Registry | undefined;

export function metricsRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    registry.setDefaultLabels({ service: 'c360-ingest' });
    collectDefaultMetrics({ register: registry });
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
