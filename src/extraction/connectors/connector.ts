/**
 * The connector interface: pull one page from a position, get records and the next position.
 * `runConnector` drives any connector with incremental sync, committing each page's records and
 * the position after it in one Kafka transaction (`<ns>.connector-state`), so a crash between
 * pages neither skips nor repeats one. A record that cannot go to the ingest topic (not an
 * object, larger than the topic takes) is dead-lettered in the same transaction and the page goes
 * on; a position the vendor hands back twice in one sync would loop for ever, and ends the run.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Message } from 'kafkajs';
import type { z } from 'zod';
import { parseSettings } from '../../config.js';
import type { DeadLetterContract } from '../../contracts/dead-letter.js';
import { ConnectorLoopError, DependencyRefusedError, describeError } from '../../contracts/errors.js';
import { ingestIdFrom, type Lineage, lineageHeaders } from '../../contracts/lineage.js';
import { topicNames } from '../../contracts/topic-names.js';
import { crashPoint } from '../../faults/failpoints.js';
import type { Logger } from '../../observability/logger.js';
import { endSpan, SpanKind, startSpan, traceparentOf } from '../../observability/tracing.js';
import type { UnidentifiedSealer } from '../../privacy/sealed.js';
import type { ComponentSpec } from '../../registry.js';
import type { CompiledEntity } from '../../schema/entity.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { IngestBatch, kafkaIngestLog } from '../ingest-batch.js';

/** A connector kind, registered by name in connectors/index.ts; a connector file's `type` names it (default rest). */
export interface ConnectorSpec extends ComponentSpec {
  options: z.ZodType;
  /** Validates the file's settings (less `type`) and builds the connector; `setting` names the file in messages. */
  create(settings: unknown, env: NodeJS.ProcessEnv, setting: string): Connector;
}

/** Declares a connector kind whose `create` gets its settings validated against `options`. */
export function defineConnector<O extends z.ZodType>(
  spec: Omit<ConnectorSpec, 'options' | 'create'> & { options: O; create(options: z.output<O>, env: NodeJS.ProcessEnv, setting: string): Connector },
): ConnectorSpec {
  return { ...spec, create: (settings, env, setting) => spec.create(parseSettings(spec.options, settings, setting), env, setting) };
}

/** A position in a vendor's data: JSON, opaque to the runner. */
export type Position = Record<string, unknown>;

export interface Page {
  /** As the API gave them: objects, or anything else, which is dead-lettered. */
  records: unknown[];
  /** Where the next pull starts. */
  next: Position;
  /** True when this page was the last one for now: the next pull is the next incremental sync. */
  caughtUp: boolean;
}

/** What a pull may be told: to stop at once (SIGTERM), and whom to tell before it waits to retry. */
export interface PullContext {
  signal?: AbortSignal;
  onRetry?: (error: unknown, attempt: number, waitMs: number) => void;
}

export interface Connector {
  readonly name: string;
  readonly source: string;
  /** The first position ever, before any state exists. */
  initial(): Position;
  pull(from: Position, context?: PullContext): Promise<Page>;
}

interface ConnectorState {
  kind: 'connector';
  connector: string;
  position: Position;
  pages: number;
  records: number;
  updated_at: string;
}

export interface RunConnectorOptions {
  kafka: Kafka;
  namespace: string;
  connector: Connector;
  entity: CompiledEntity;
  logger: Logger;
  deadLetter: DeadLetterContract;
  /** The raw layer's storage, where a dead letter too large for its topic keeps its original value. */
  store: ObjectStore;
  /** Seals the originals of dead-lettered records (the CLI always passes one). */
  sealer?: UnidentifiedSealer;
  /** The topology's record limit: a record over it is dead-lettered (size.too_large) and the page goes on. */
  maxRecordBytes: number;
  /** Stop once caught up, instead of syncing again every `intervalMs`. */
  once?: boolean;
  intervalMs?: number;
  signal?: AbortSignal;
  /** After each committed page: records sent, records dead-lettered. */
  onPage?: (records: number, deadLettered: number) => void;
  /** After each failed request that will be tried again (counted, so an alert sees a failing API). */
  onRetry?: () => void;
}

/** The largest position a connector keeps in connector-state. */
const MAX_POSITION_BYTES = 64 * 1024;

export interface ConnectorRun {
  pages: number;
  /** Records sent to the ingest topic. */
  records: number;
  deadLettered: number;
}

/** A page's records into the batch, each with its lineage (a record that is not an object, or too large, dead-lettered); how many were added. */
async function addPage(
  o: RunConnectorOptions,
  batch: IngestBatch,
  page: Page,
  from: unknown,
  at: { key: string; first: number },
  trace: string | undefined,
): Promise<number> {
  const receivedAt = Date.now();
  let sent = 0;
  for (const [index, record] of page.records.entries()) {
    const lineage: Lineage = {
      ingestId: ingestIdFrom(`${o.connector.name}/${JSON.stringify(from)}/${index}`),
      source: o.entity.source,
      sourceKind: 'api',
      receivedAt,
      origin: JSON.stringify({ connector: o.connector.name, cursor: from, index }),
      ...(trace ? { trace } : {}),
    };
    const origin = { topic: at.key, offset: at.first + index };
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      await batch.reject(origin, lineage, { code: 'mapping.malformed_row', field: null, message: 'the API record is not a JSON object' }, record);
      continue;
    }
    const message: Message = {
      key: o.entity.naturalId(record as Record<string, unknown>) || null,
      value: JSON.stringify(record),
      headers: lineageHeaders(lineage),
    };
    if (await batch.add(message, lineage, origin, record)) sent++;
  }
  return sent;
}

/**
 * One page from the API, retried as the connector says; undefined when told to stop while a request
 * or its retry wait was under way (what is committed stays committed).
 */
async function pullPage(o: RunConnectorOptions, from: Position): Promise<Page | undefined> {
  let page: Page;
  try {
    page = await o.connector.pull(from, {
      signal: o.signal,
      onRetry: (err, attempt, waitMs) => {
        o.onRetry?.();
        o.logger.warn({ connector: o.connector.name, attempt, waitMs, err: describeError(err) }, 'the API did not answer; retrying after the wait');
      },
    });
  } catch (err) {
    if (o.signal?.aborted) return undefined;
    throw err;
  }
  // A position is kept with every page: one that could not be (a cursor of megabytes) ends the run rather than every transaction failing.
  if (Buffer.byteLength(JSON.stringify(page.next)) > MAX_POSITION_BYTES)
    throw new DependencyRefusedError('connector', `${o.connector.name}: the API's next position is over ${MAX_POSITION_BYTES} bytes; it cannot be kept.`);
  return page;
}

export async function runConnector(o: RunConnectorOptions): Promise<ConnectorRun> {
  const names = topicNames(o.namespace);
  // The connector's state key, and where its dead letters say they were read.
  const key = `connector:${o.connector.name}`;
  const log = await kafkaIngestLog<ConnectorState>(o.kafka, o.namespace, `${o.namespace}.connector.${o.connector.name}`, o.deadLetter.maxMessageBytes);
  const run: ConnectorRun = { pages: 0, records: 0, deadLettered: 0 };
  try {
    const batch = new IngestBatch(o, await log.maxMessageBytes(names.ingest(o.entity.source)), 'connector');
    const saved = await log.position(key);
    let position = saved?.position ?? o.connector.initial();
    let totals = { pages: saved?.pages ?? 0, records: saved?.records ?? 0 };
    /** Positions pulled since the sync began: one handed back again would be pulled for ever. */
    let pulled = new Set<string>();
    o.logger.info({ connector: o.connector.name, resumed: saved !== undefined }, 'connector starting');
    while (!o.signal?.aborted) {
      const from = position;
      const seen = JSON.stringify(from);
      if (pulled.has(seen))
        throw new ConnectorLoopError(
          `${o.connector.name}: the API handed back a position it had already given in this sync (${seen.slice(0, 200)}); following it would loop for ever.`,
        );
      pulled.add(seen);
      // A page is one span, from its request to its commit: its records go on as that span's children.
      const span = startSpan('pull page', { kind: SpanKind.PRODUCER, attributes: { 'c360.connector': o.connector.name, 'c360.source': o.entity.source } });
      let page: Page | undefined;
      let sent = 0;
      try {
        page = await pullPage(o, from);
        if (page) {
          const first = totals.records;
          sent = await addPage(o, batch, page, from, { key, first }, span && traceparentOf(span));
          totals = { pages: totals.pages + 1, records: totals.records + page.records.length };
          const state: ConnectorState = {
            kind: 'connector',
            connector: o.connector.name,
            position: page.next,
            ...totals,
            updated_at: new Date().toISOString(),
          };
          await log.commit(batch.take(key, first, Math.max(first, totals.records - 1), key, state));
        }
      } catch (err) {
        if (span) endSpan(span, err);
        throw err;
      }
      if (span) endSpan(span);
      if (!page) break;
      const deadLettered = page.records.length - sent;
      crashPoint('connector-after-commit');
      position = page.next;
      run.pages++;
      run.records += sent;
      run.deadLettered += deadLettered;
      o.onPage?.(sent, deadLettered);
      if (page.caughtUp) {
        pulled = new Set();
        if (o.once) break;
        await sleep(o.intervalMs ?? 60_000, undefined, { signal: o.signal }).catch(() => undefined);
      }
    }
    return run;
  } finally {
    await log.close();
  }
}
