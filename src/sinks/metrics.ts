/** The sink's prom-client metrics (instrumentation listed here, as kafkajs lists its events per module). */
import { Counter, Histogram } from 'prom-client';
import { perRegistry } from '../observability/metrics.js';

export interface SinkMetrics {
  records: Counter<'topic'>;
  skipped: Counter<'topic'>;
  isolated: Counter<'topic'>;
  files: Counter<'layer' | 'outcome'>;
  fileBytes: Counter<'layer'>;
  publishSeconds: Histogram<'layer'>;
  publishFailures: Counter<'layer'>;
}

export const sinkMetrics = perRegistry(
  (registry): SinkMetrics => ({
    records: new Counter({ name: 'c360_sink_records_total', help: 'Records written into files', labelNames: ['topic'], registers: [registry] }),
    skipped: new Counter({
      name: 'c360_sink_records_already_stored_total',
      help: 'Records read again after a crash or rebalance and skipped because a file already holds them',
      labelNames: ['topic'],
      registers: [registry],
    }),
    isolated: new Counter({
      name: 'c360_sink_records_isolated_total',
      help: 'Records set aside into quarantine with stage.internal_error because storing them failed in a way retrying cannot fix',
      labelNames: ['topic'],
      registers: [registry],
    }),
    files: new Counter({
      name: 'c360_sink_files_total',
      help: 'Files published; outcome "exists" means another writer had published the same name',
      labelNames: ['layer', 'outcome'],
      registers: [registry],
    }),
    fileBytes: new Counter({ name: 'c360_sink_file_bytes_total', help: 'Bytes of Parquet published', labelNames: ['layer'], registers: [registry] }),
    publishFailures: new Counter({
      name: 'c360_sink_publish_failures_total',
      help: 'Files the store did not take (its records are read again from the committed offset and written anew)',
      labelNames: ['layer'],
      registers: [registry],
    }),
    publishSeconds: new Histogram({
      name: 'c360_sink_publish_duration_seconds',
      help: 'Close, fsync and publish of one file',
      labelNames: ['layer'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  }),
);
