/** The landing zone's and the connectors' prom-client metrics. */
import { Counter } from 'prom-client';
import { perRegistry } from '../observability/metrics.js';

export const extractionMetrics = perRegistry((registry) => ({
  files: new Counter({
    name: 'c360_watch_files_total',
    help: 'Landing-zone files by outcome: ingested, resumed, duplicate (its bytes were ingested before), rejected',
    labelNames: ['source', 'outcome'],
    registers: [registry],
  }),
  rows: new Counter({
    name: 'c360_watch_rows_total',
    help: 'Landing-zone rows by route: sent to the ingest topic, or dead-lettered',
    labelNames: ['source', 'route'],
    registers: [registry],
  }),
  pages: new Counter({
    name: 'c360_connector_pages_total',
    help: 'Connector pages committed with their position',
    labelNames: ['connector'],
    registers: [registry],
  }),
  records: new Counter({
    name: 'c360_connector_records_total',
    help: 'Connector records sent to the ingest topic',
    labelNames: ['connector'],
    registers: [registry],
  }),
  connectorRetries: new Counter({
    name: 'c360_connector_request_retries_total',
    help: 'Connector requests that failed and are tried again (the vendor API unreachable, 429, 5xx)',
    labelNames: ['connector'],
    registers: [registry],
  }),
  connectorDeadLettered: new Counter({
    name: 'c360_connector_records_dead_lettered_total',
    help: 'Connector records dead-lettered where they were read (not a JSON object, larger than the ingest topic takes)',
    labelNames: ['connector'],
    registers: [registry],
  }),
}));
