/**
 * The connector interface: pull one page from a position, get records and the next position.
 * `runConnector` drives any connector with incremental sync, committing each page's records and
 * the position after it in one Kafka transaction (`<ns>.connector-state`), so a crash between
 * pages neither skips nor repeats one.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Message } from 'kafkajs';
import type { z } from 'zod';
import { parseSettings } from '../../config.js';
import { ingestIdFrom, lineageHeaders } from '../../contracts/lineage.js';
import { topicNames } from '../../contracts/topics.js';
import { crashPoint } from '../../faults/failpoints.js';
import { sendTransaction } from '../../kafka/send.js';
import { exclusiveProducer } from '../../kafka/transactional.js';
import type { Logger } from '../../observability/logger.js';
import type { ComponentSpec } from '../../registry.js';
import type { CompiledEntity } from '../../schema/entity.js';
import { readState, stateMessage } from '../state.js';

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
  records: Array<Record<string, unknown>>;
  /** Where the next pull starts. */
  next: Position;
  /** True when this page was the last one for now: the next pull is the next incremental sync. */
  caughtUp: boolean;
}

export interface Connector {
  readonly name: string;
  readonly source: string;
  /** The first position ever, before any state exists. */
  initial(): Position;
  pull(from: Position): Promise<Page>;
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
  /** Stop once caught up, instead of syncing again every `intervalMs`. */
  once?: boolean;
  intervalMs?: number;
  signal?: AbortSignal;
  /** After each committed page. */
  onPage?: (records: number) => void;
}

export interface ConnectorRun {
  pages: number;
  records: number;
}

export async function runConnector(o: RunConnectorOptions): Promise<ConnectorRun> {
  const names = topicNames(o.namespace);
  const key = `connector:${o.connector.name}`;
  const producer = await exclusiveProducer(o.kafka, `${o.namespace}.connector.${o.connector.name}`);
  const run: ConnectorRun = { pages: 0, records: 0 };
  try {
    const saved = await readState<ConnectorState>(o.kafka, names.connectorState, key);
    let position = saved?.position ?? o.connector.initial();
    let totals = { pages: saved?.pages ?? 0, records: saved?.records ?? 0 };
    o.logger.info({ connector: o.connector.name, resumed: saved !== undefined }, 'connector starting');
    while (!o.signal?.aborted) {
      const from = position;
      const page = await o.connector.pull(from);
      const receivedAt = Date.now();
      const messages: Message[] = page.records.map((record, index) => ({
        key: o.entity.naturalId(record) || null,
        value: JSON.stringify(record),
        headers: lineageHeaders({
          ingestId: ingestIdFrom(`${o.connector.name}/${JSON.stringify(from)}/${index}`),
          source: o.entity.source,
          sourceKind: 'api',
          receivedAt,
          origin: JSON.stringify({ connector: o.connector.name, cursor: from, index }),
        }),
      }));
      totals = { pages: totals.pages + 1, records: totals.records + messages.length };
      const state: ConnectorState = { kind: 'connector', connector: o.connector.name, position: page.next, ...totals, updated_at: new Date().toISOString() };
      await sendTransaction(producer, [
        { topic: names.ingest(o.entity.source), messages },
        { topic: names.connectorState, messages: [stateMessage(key, state)] },
      ]);
      crashPoint('connector-after-commit');
      position = page.next;
      run.pages++;
      run.records += messages.length;
      o.onPage?.(messages.length);
      if (page.caughtUp) {
        if (o.once) break;
        await sleep(o.intervalMs ?? 60_000, undefined, { signal: o.signal }).catch(() => undefined);
      }
    }
    return run;
  } finally {
    await producer.disconnect();
  }
}
