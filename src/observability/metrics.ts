/** One prom-client registry per process, with Node's default metrics; components register their own beside them. */
import { Registry, collectDefaultMetrics } from 'prom-client';

let registry: Registry | undefined;

export function metricsRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    registry.setDefaultLabels({ service: 'c360-ingest' });
    collectDefaultMetrics({ register: registry });
  }
  return registry;
}
