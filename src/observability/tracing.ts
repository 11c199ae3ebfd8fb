/**
 * Traces (OpenTelemetry), off unless an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT).
 * A record's trace context travels with it as a W3C `traceparent` in its lineage headers
 * (contracts/lineage.ts), so the collector, a connector or a file ingest, the topology and the sink
 * each add a span to one trace per request, page or file. Spans are made by hand at those points
 * rather than by instrumenting kafkajs: a batch's records go out in one transaction, and only the
 * code that routes a record knows which trace it belongs to.
 */
import { type Attributes, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type TimeInput, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { IHeaders } from 'kafkajs';
import type { TracingSettings } from '../config.js';
import { HEADER, headerString, TRACEPARENT } from '../contracts/lineage.js';
import { VERSION } from '../contracts/project.js';

export { type Span, SpanKind };

/** How long a stop waits for the last spans to reach the receiver. */
const FLUSH_TIMEOUT_MS = 5_000;

let provider: TracerProvider | undefined;

function sampler(settings: TracingSettings): Sampler {
  const ratio = new TraceIdRatioBasedSampler(settings.ratio);
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
  }
}

/** Starts exporting this process's spans (once; later calls keep the first settings). Nothing happens without settings. */
export function startTracing(settings: TracingSettings | undefined, command: string): void {
  if (!settings || provider) return;
  provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName ?? `c360-${command}`, 'service.version': VERSION }),
    sampler: sampler(settings),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: settings.url, headers: settings.headers }) })],
  });
  // A command that ends by itself (an ingest, `watch --once`) sends its last spans before the process goes;
  // the long-running ones do so in their graceful stop (cli/shutdown.ts).
  process.once('beforeExit', () => void stopTracing());
}

/** Sends the spans not yet exported and stops; bounded, so a receiver that is down cannot hold up a stop. */
export async function stopTracing(): Promise<void> {
  const stopping = provider;
  provider = undefined;
  if (!stopping) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    stopping.shutdown().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, FLUSH_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
}

export function tracingOn(): boolean {
  return provider !== undefined;
}

/** A record's traceparent when it is worth keeping until a later span: tracing is on, and it is valid and names a sampled trace. */
export function sampledTraceparent(headers: IHeaders | undefined): string | undefined {
  if (!provider) return undefined;
  const text = headerString(headers, HEADER.traceparent);
  const m = text === undefined ? null : TRACEPARENT.exec(text);
  return m && (Number.parseInt(m[3]!, 16) & 1) === 1 ? text : undefined;
}

/**
 * A span under the trace a traceparent names (a new trace without one); undefined while tracing
 * is off, so callers skip their work at the cost of one check.
 */
export function startSpan(
  name: string,
  options: { kind: SpanKind; parent?: string | undefined; attributes?: Attributes; startTime?: TimeInput },
): Span | undefined {
  if (!provider) return undefined;
  const m = options.parent ? TRACEPARENT.exec(options.parent) : null;
  const parent = m
    ? // From the root context: no context manager is installed, each span names its parent.
      trace.setSpanContext(ROOT_CONTEXT, { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true })
    : ROOT_CONTEXT;
  return provider
    .getTracer('c360-ingest', VERSION)
    .startSpan(
      name,
      { kind: options.kind, ...(options.attributes ? { attributes: options.attributes } : {}), ...(options.startTime ? { startTime: options.startTime } : {}) },
      parent,
    );
}

/** What a span of a record's processing says of where the record was read (OpenTelemetry's messaging conventions). */
export function processAttributes(topic: string, partition: number): Attributes {
  return {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.destination.name': topic,
    'messaging.destination.partition.id': String(partition),
  };
}

/** The traceparent that makes the next hop a child of this span. */
export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${c.traceFlags.toString(16).padStart(2, '0')}`;
}

/** Ends a span, marking it failed when an error ended its work. */
export function endSpan(span: Span, err?: unknown, endTime?: TimeInput): void {
  if (err !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
  }
  span.end(endTime);
}
