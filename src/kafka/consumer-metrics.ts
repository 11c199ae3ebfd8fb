/** Metrics every consumer of c360 exports: how far behind its partitions are. */
import { Gauge } from 'prom-client';
import { perRegistry } from '../observability/metrics.js';

export const consumerMetrics = perRegistry((registry) => ({
  lag: new Gauge({
    name: 'c360_consumer_lag_records',
    help: "Records in the partition after the last one the group's worker committed (its high watermark, as of the last batch, minus the next offset)",
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
  }),
}));

/** Sets the lag of a partition from a batch: what is left after `nextOffset`, as the broker's high watermark said. */
export function recordLag(
  lag: Gauge<'group' | 'topic' | 'partition'>,
  group: string,
  topic: string,
  partition: number,
  highWatermark: string,
  nextOffset: bigint,
): void {
  const left = BigInt(highWatermark) - nextOffset;
  lag.set({ group, topic, partition: String(partition) }, Number(left > 0n ? left : 0n));
}
