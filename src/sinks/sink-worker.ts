/**
 * A sink worker: drains the raw topics (by pattern), the near-duplicate topic and the dead-letter
 * topic into the raw layer. Several workers in the `<ns>.sink` group share the partitions. Each
 * partition's work runs under its own lock (batches, idle flushes, revocation), and offsets are
 * committed only for records that are in published files (see partition-sink.ts).
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { DeadLetterContract } from '../contracts/dead-letter.js';
import { C360Error, DependencyRefusedError, describeError, isDependencyFailure, mayBlameRecord, onDisk, safeMessage } from '../contracts/errors.js';
import { topicNames } from '../contracts/topic-names.js';
import type { Topology } from '../contracts/topology-definition.js';
import { crashPoint } from '../faults/failpoints.js';
import { createKafka } from '../kafka/client.js';
import { consumerMetrics, recordLag } from '../kafka/consumer-metrics.js';
import { type GroupMembership, groupConsumer } from '../kafka/membership.js';
import type { Logger } from '../observability/logger.js';
import { DependencyWaits, waitOut } from '../retry.js';
import { WriterSchemas } from '../schema/registry.js';
import { openObjectStore } from '../storage/backends.js';
import { makeDirectory } from '../storage/directories.js';
import type { ObjectStore } from '../storage/object-store.js';
import { deadLetterContract, prepareTopologyTopics } from '../topology/setup.js';
import { LINEAGE_FIELDS } from './lineage-columns.js';
import { type SinkMetrics, sinkMetrics } from './metrics.js';
import { type RotationOptions, rotationOptions } from './options.js';
import { type FileSchema, fileSchema } from './parquet/parquet-file.js';
import { PartitionSink } from './partition-sink.js';
import { quarantineRecord, readSinkRecord, schemaIdsOf, type TopicRole } from './records.js';

export interface SinkWorkerOptions {
  config: Config;
  topology: Topology;
  logger: Logger;
  metrics: Registry;
  /** Defaults to the store C360_STORAGE_URL names. */
  store?: ObjectStore;
  /** Consumer group; default `<namespace>.sink`. A second group lands the same topics in a second store. */
  groupId?: string;
  rotation?: Partial<RotationOptions>;
  sessionTimeoutMs?: number;
  summaryIntervalMs?: number;
  onFatal?: (error: Error) => void;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class SinkWorker {
  readonly groupId: string;
  readonly store: ObjectStore;
  private readonly kafka: Kafka;
  private readonly rotation: RotationOptions;
  private readonly metrics: SinkMetrics;
  private readonly consumerMetrics: ReturnType<typeof consumerMetrics>;
  private readonly schemas: WriterSchemas;
  /** Per writer schema id: its Parquet schema, or why it has none. */
  private readonly fileSchemas = new Map<number, FileSchema | string>();
  private readonly partitions = new Map<string, PartitionSink>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly committed = new Map<string, number>();
  private readonly waits = new DependencyWaits();
  private readonly rawPrefix: string;
  private readonly names: ReturnType<typeof topicNames>;
  private consumer: Consumer | undefined;
  private deadLetter: DeadLetterContract | undefined;
  private spoolDir = '';
  private timers: NodeJS.Timeout[] = [];
  /** Its consumer's place in the group, once started: what /readyz and /healthz report (src/cli/ops.ts). */
  membership: GroupMembership | undefined;
  private stopping = false;

  constructor(private readonly options: SinkWorkerOptions) {
    const { config, topology, logger } = options;
    this.groupId = options.groupId ?? topicNames(topology.namespace).sinkGroup;
    this.kafka = createKafka(config, logger, 'sink');
    this.store = options.store ?? openObjectStore(config);
    this.rotation = rotationOptions(options.rotation ?? {});
    this.metrics = sinkMetrics(options.metrics);
    this.consumerMetrics = consumerMetrics(options.metrics);
    this.schemas = new WriterSchemas(config);
    this.names = topicNames(topology.namespace);
    this.rawPrefix = this.names.raw('');
  }

  async start(): Promise<void> {
    const { config, topology, logger } = this.options;
    await prepareTopologyTopics(this.kafka, topology, config);
    this.deadLetter = await deadLetterContract(config, this.kafka, topology.namespace);
    // A store that refuses at start (no such bucket, no permission) is a setting to fix: one sentence, and the sink does not start.
    // One that does not answer yet is waited out by the partitions, as any outage.
    await this.store.check().catch((err: unknown) => {
      if (err instanceof DependencyRefusedError) throw err;
      logger.warn({ err: describeError(err) }, 'the store does not answer yet; the sink waits for it');
    });
    this.spoolDir = this.prepareSpool();

    const { consumer, membership } = groupConsumer(this.kafka, {
      groupId: this.groupId,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      memory: config.memory,
    });
    this.consumer = consumer;
    this.membership = membership;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const assigned = new Set(Object.entries(e.payload.memberAssignment).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`)));
      logger.info({ assignment: e.payload.memberAssignment }, 'joined sink group');
      for (const key of this.partitions.keys()) {
        if (!assigned.has(key)) void this.withPartition(key, (ps) => this.revoke(key, ps));
      }
    });
    consumer.on(consumer.events.CRASH, (e) => {
      logger.error({ err: describeError(e.payload.error), restart: e.payload.restart }, 'sink consumer crashed');
      if (!e.payload.restart) this.options.onFatal?.(e.payload.error);
    });
    await consumer.connect();
    // KafkaJS matches a pattern against the topics that exist at subscribe time: a source added later needs a restart.
    await consumer.subscribe({
      topics: [new RegExp(`^${escapeRegExp(this.rawPrefix)}[a-z0-9-]+$`), this.names.nearDuplicates, this.names.deadLetter],
      fromBeginning: true,
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: (payload) => this.processBatch(payload),
    });
    const tick = Math.max(100, Math.min(1_000, Math.floor(this.rotation.idleFlushMs / 2)));
    this.timers.push(setInterval(() => void this.flushIdle(), tick));
    this.timers.push(setInterval(() => this.logSummary(), this.options.summaryIntervalMs ?? 10_000));
    for (const t of this.timers) t.unref();
    logger.info({ group: this.groupId, store: this.store.url, rotation: this.rotation }, 'sink running');
  }

  private role(topic: string): TopicRole {
    if (topic === this.names.nearDuplicates) return { kind: 'near-duplicates', source: undefined };
    if (topic === this.names.deadLetter) return { kind: 'quarantine', source: undefined };
    return { kind: 'raw', source: topic.slice(this.rawPrefix.length) };
  }

  private partitionSink(topic: string, partition: number): PartitionSink {
    const key = `${topic}/${partition}`;
    let ps = this.partitions.get(key);
    if (!ps) {
      ps = new PartitionSink(topic, partition, {
        store: this.store,
        spoolDir: this.spoolDir,
        rotation: this.rotation,
        fileSchema: (id, schema) => this.fileSchemaOf(id, schema) as FileSchema,
        metrics: this.metrics,
        logger: this.options.logger,
      });
      this.partitions.set(key, ps);
    }
    return ps;
  }

  private readonly whyNotStorable = (id: number, schema: Record<string, unknown>): string | undefined => {
    const compiled = this.fileSchemaOf(id, schema);
    return typeof compiled === 'string' ? compiled : undefined;
  };

  private fileSchemaOf(id: number, schema: Record<string, unknown>): FileSchema | string {
    let compiled = this.fileSchemas.get(id);
    if (compiled === undefined) {
      try {
        compiled = fileSchema(schema, LINEAGE_FIELDS);
      } catch (err) {
        compiled = err instanceof C360Error ? err.message : describeError(err);
      }
      this.fileSchemas.set(id, compiled);
    }
    return compiled;
  }

  /** Serialises everything done to one partition: batches, idle flushes, revocation and the final flush. */
  private withPartition<T>(key: string, work: (ps: PartitionSink) => Promise<T> | T): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(() => {
        const ps = this.partitions.get(key);
        return ps ? work(ps) : (undefined as T);
      });
    this.locks.set(key, next);
    return next;
  }

  private async processBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0 || this.stopping) return;
    const role = this.role(batch.topic);
    const key = `${batch.topic}/${batch.partition}`;
    this.partitionSink(batch.topic, batch.partition);
    const running = () => isRunning() && !isStale() && !this.stopping;
    const wait = <T>(run: () => Promise<T>) =>
      waitOut(run, { key, logger: this.options.logger, waits: this.waits, shouldContinue: running, onRetry: () => heartbeat().catch(() => undefined) });
    await this.withPartition(key, async (ps) => {
      await wait(() => this.schemas.fetch(schemaIdsOf(batch.messages)));
      for (const m of batch.messages) {
        if (!running()) break;
        // What the store or disk left undone (a rotated file, bytes a failed disk kept) is finished before the next record is
        // taken: a record never waits in memory behind it. Nearly every record finds nothing to do, and costs no retry wrapper.
        if (ps.unsettled) await wait(() => ps.settle());
        await wait(() => this.append(ps, role, batch.topic, batch.partition, m));
        resolveOffset(m.offset);
      }
      if (ps.unsettled) await wait(() => ps.settle());
      await this.commit(ps);
      // Lag as the group sees it: records after the committed offset (those in open files included, until they are published).
      const committed = this.committed.get(key);
      if (committed !== undefined) recordLag(this.consumerMetrics.lag, this.groupId, ps.topic, ps.partition, batch.highWatermark, BigInt(committed));
    });
    await heartbeat().catch(() => undefined);
  }

  /**
   * One record into its file. A record that cannot be stored for a reason of its own (a value no
   * column can hold) is set aside into quarantine with stage.internal_error, so the partition goes
   * on; a store or disk that fails is the caller's to wait out, never the record's fault.
   */
  private async append(ps: PartitionSink, role: TopicRole, topic: string, partition: number, m: KafkaMessage): Promise<void> {
    try {
      await ps.append(Number(m.offset), readSinkRecord(role, topic, partition, m, this.schemas, this.deadLetter!, this.whyNotStorable));
    } catch (err) {
      if (!mayBlameRecord(err)) throw err;
      this.metrics.isolated.inc({ topic });
      this.options.logger.warn(
        { topic, partition, offset: m.offset, err: safeMessage(err) },
        'record set aside into quarantine: storing it failed in a way retrying cannot fix',
      );
      const error = { code: 'stage.internal_error' as const, field: null, message: safeMessage(err) };
      await ps.append(Number(m.offset), quarantineRecord(role, topic, partition, m, this.deadLetter!, error));
    }
  }

  /** What this worker's partitions wait on (a store or disk that fails, the registry): /readyz says it. */
  waitingOn(): string[] {
    return this.waits.describe();
  }

  private async commit(ps: PartitionSink): Promise<void> {
    const key = `${ps.topic}/${ps.partition}`;
    const offset = ps.committable();
    if (offset === undefined || offset <= (this.committed.get(key) ?? -1)) return;
    crashPoint('sink-before-commit');
    try {
      await this.consumer!.commitOffsets([{ topic: ps.topic, partition: ps.partition, offset: String(offset) }]);
      this.committed.set(key, offset);
    } catch (err) {
      // Safe to skip: a later commit covers it, and a re-read record is found in storage and skipped.
      this.options.logger.warn({ topic: ps.topic, partition: ps.partition, err: describeError(err) }, 'offset commit failed; will commit again');
    }
  }

  private revoke(key: string, ps: PartitionSink): void {
    ps.discard();
    this.waits.end(key);
    this.partitions.delete(key);
    this.committed.delete(key);
  }

  /** Closes idle files and publishes them; a file the store does not take stays owned and is published at the next tick or batch. */
  private async flushIdle(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.partitions.keys()].map((key) =>
        this.withPartition(key, async (ps) => {
          if (this.stopping) return;
          try {
            await ps.flushIdle(now);
            this.waits.end(key);
          } catch (err) {
            if (!isDependencyFailure(err)) throw err;
            if (this.waits.start(key, err))
              this.options.logger.warn(
                { key, code: err.code, err: err.message },
                'idle flush waits for the store; the file stays owned and is published again',
              );
          }
          await this.commit(ps);
        }).catch((err) => this.options.logger.error({ key, err: describeError(err) }, 'idle flush failed')),
      ),
    );
  }

  /** Open files in this worker and records read but not yet committed: zero once drained. */
  pending(): { openFiles: number } {
    let openFiles = 0;
    for (const ps of this.partitions.values()) openFiles += ps.openFiles;
    return { openFiles };
  }

  private logSummary(): void {
    this.options.logger.info({ partitions: this.partitions.size, ...this.pending() }, 'sink summary');
  }

  /** A spool folder per worker process; folders of processes no longer running on this host are removed. */
  private prepareSpool(): string {
    const host = os.hostname();
    const root = this.store.spoolDir;
    return onDisk('disk', `preparing the spool folder ${root}`, () => this.ownSpool(root, host));
  }

  private ownSpool(root: string, host: string): string {
    makeDirectory(root);
    for (const entry of fs.readdirSync(root)) {
      const m = /^(.*)-(\d+)$/.exec(entry);
      if (!m || m[1] !== host) continue;
      try {
        process.kill(Number(m[2]), 0);
      } catch {
        fs.rmSync(path.join(root, entry), { recursive: true, force: true });
      }
    }
    const dir = path.join(root, `${host}-${process.pid}`);
    makeDirectory(dir);
    return dir;
  }

  /** Graceful stop: stop taking batches, publish every open file, commit, leave the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all(
      [...this.partitions.keys()].map((key) =>
        this.withPartition(key, async (ps) => {
          await ps.flushAll();
          await this.commit(ps);
        }).catch((err) => this.options.logger.error({ key, err: describeError(err) }, 'final flush failed; the records will be read again')),
      ),
    );
    await this.consumer?.disconnect().catch(() => undefined);
    fs.rmSync(this.spoolDir, { recursive: true, force: true });
    this.store.close();
  }
}
