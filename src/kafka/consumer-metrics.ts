/** Metrics every consumer of c360 exports: how far behind its partitions are. */
import { Gauge } from 'prom-client';
import { perRegistry } from '../observability/metrics.js';

export const consumerMetrics = perRegistry((registry) => ({
  lag: new Gauge({
    name: 'c360_consumer_lag_records',
    help: "Records in the partition after the last one the group's worker committed (its high watermark, as of the last batch, minus the next offset); gone once the partition moves to another worker",
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
  }),
}));
