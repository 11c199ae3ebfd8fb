/** The topology's prom-client metrics (instrumentation listed here, as kafkajs lists its events per module). */
import { Counter, Gauge, Histogram } from 'prom-client';
import { perRegistry } from '../observability/metrics.js';

export interface TopologyMetrics {
  recordsIn: Counter<'source'>;
  routed: Counter<'source' | 'route'>;
  errors: Counter<'source' | 'code'>;
  warnings: Counter<'source' | 'code'>;
  nearDuplicates: Counter<'source' | 'kind'>;
  nearDuplicatesBelowThreshold: Counter<'source'>;
  batchSeconds: Histogram<'source'>;
  dependencyRetries: Counter<'stage'>;
  poison: Counter<'source' | 'stage'>;
  transactions: Counter<'outcome'>;
  inFlight: Gauge;
}

export const topologyMetrics = perRegistry(
  (registry): TopologyMetrics => ({
    recordsIn: new Counter({ name: 'c360_topology_records_in_total', help: 'Records read from ingest topics', labelNames: ['source'], registers: [registry] }),
    routed: new Counter({
      name: 'c360_topology_records_routed_total',
      help: 'Records by route: raw, duplicate (dropped), dead_letter, suppressed (a forgotten person, dropped)',
      labelNames: ['source', 'route'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'c360_topology_record_errors_total',
      help: 'Dead-lettered records by taxonomy code (a record with several errors counts under each)',
      labelNames: ['source', 'code'],
      registers: [registry],
    }),
    warnings: new Counter({
      name: 'c360_topology_record_warnings_total',
      help: 'Warnings flagged on records that went on (quality flags), by taxonomy code',
      labelNames: ['source', 'code'],
      registers: [registry],
    }),
    nearDuplicates: new Counter({
      name: 'c360_topology_near_duplicates_total',
      help: 'Near-duplicate and id-collision events emitted',
      labelNames: ['source', 'kind'],
      registers: [registry],
    }),
    nearDuplicatesBelowThreshold: new Counter({
      name: 'c360_topology_near_duplicate_candidates_below_threshold_total',
      help: 'Candidate pairs the near-duplicate stage scored below matching.threshold: counted, not emitted',
      labelNames: ['source'],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'c360_topology_batch_duration_seconds',
      help: 'Time from fetch to committed transaction, per batch',
      labelNames: ['source'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    transactions: new Counter({
      name: 'c360_topology_transactions_total',
      help: 'Kafka transactions of batches: committed, or aborted (the batch is read again)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'c360_topology_records_in_flight',
      help: 'Records of the batches being processed now, read but not yet committed',
      registers: [registry],
    }),
    poison: new Counter({
      name: 'c360_topology_poison_records_total',
      help: 'Records isolated and dead-lettered with stage.internal_error because processing them failed in a way retrying cannot fix',
      labelNames: ['source', 'stage'],
      registers: [registry],
    }),
    dependencyRetries: new Counter({
      name: 'c360_topology_dependency_retries_total',
      help: 'Stage retries while Redis or the registry is unavailable',
      labelNames: ['stage'],
      registers: [registry],
    }),
  }),
);
