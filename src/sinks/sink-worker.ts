/**
 * A sink worker: drains the raw topics (by pattern), the near-duplicate topic and the dead-letter
 * topic into the raw layer. Several workers in the `<ns>.sink` group share the partitions. Each
 * partition's work runs under its own lock (batches, idle flushes, revocation), and offsets are
 * committed only for records that are in published files (see partition-sink.ts).
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Batch, Kafka, KafkaMessage } from 'kafkajs';
import type { DeadLetterContract } from '../contracts/dead-letter.js';
import {
  C360Error,
  DependencyRefusedError,
  describeError,
  isDependencyFailure,
  mayBlameRecord,
  onDisk,
  SchemaError,
  safeMessage,
} from '../contracts/errors.js';
import { topicNames } from '../contracts/topic-names.js';
import type { Topology } from '../contracts/topology-definition.js';
import { RestCatalog } from '../iceberg/rest-catalog.js';
import { createKafka } from '../kafka/client.js';
import { GroupWorker, partitionKey, type Turn, type WorkerOptions } from '../kafka/worker/group-worker.js';
import { WriterSchemas } from '../schema/registry.js';
import { openObjectStore } from '../storage/backends.js';
import { makeDirectory } from '../storage/directories.js';
import type { ObjectStore } from '../storage/object-store.js';
import { deadLetterContract, prepareTopologyTopics } from '../topology/setup.js';
import { FolderLayer } from './folder-layer.js';
import { placeInFolders } from './layout.js';
import { LINEAGE_FIELDS } from './lineage-columns.js';
import { type SinkMetrics, sinkMetrics } from './metrics.js';
import { type RotationOptions, rotationOptions } from './options.js';
import { type FileSchema, fileSchema } from './parquet/parquet-file.js';
import { PartitionSink, SupersededError } from './partition-sink.js';
import { type Placement, quarantineRecord, readSinkRecord, schemaIdsOf, type TopicRole } from './records.js';
import type { SinkLayer } from './sink-layer.js';
import { TableLayer } from './table-layer.js';

export interface SinkWorkerOptions extends WorkerOptions {
  topology: Topology;
  /** Defaults to the store C360_STORAGE_URL names. */
  store?: ObjectStore;
  /** Consumer group; default `<namespace>.sink`. A second group lands the same topics in a second store. */
  groupId?: string;
  rotation?: Partial<RotationOptions>;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class SinkWorker {
  readonly groupId: string;
  readonly store: ObjectStore;
  /** Its place in the group and its partitions' waits: what /readyz and /healthz report (src/cli/ops.ts). */
  readonly worker: GroupWorker;
  private readonly kafka: Kafka;
  private readonly rotation: RotationOptions;
  private readonly metrics: SinkMetrics;
  private readonly schemas: WriterSchemas;
  /** Per writer schema id: its Parquet schema, or why it has none. */
  private readonly fileSchemas = new Map<number, FileSchema | string>();
  /** The files of each partition this worker owns, by `topic[partition]`. */
  private readonly partitions = new Map<string, PartitionSink>();
  /** Folders under the store, or tables in the catalog (C360_CATALOG_URL). */
  private readonly layer: SinkLayer;
  private readonly place: Placement;
  private readonly catalog: RestCatalog | undefined;
  private readonly rawPrefix: string;
  private readonly names: ReturnType<typeof topicNames>;
  private deadLetter: DeadLetterContract | undefined;
  private spoolDir = '';
  private flushTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly options: SinkWorkerOptions) {
    const { config, topology, logger } = options;
    this.groupId = options.groupId ?? topicNames(topology.namespace).sinkGroup;
    this.kafka = createKafka(config, logger, 'sink');
    this.store = options.store ?? openObjectStore(config);
    this.rotation = rotationOptions(options.rotation ?? {});
    this.metrics = sinkMetrics(options.metrics);
    this.schemas = new WriterSchemas(config);
    this.names = topicNames(topology.namespace);
    this.rawPrefix = this.names.raw('');
    if (config.catalog) {
      this.catalog = new RestCatalog(config.catalog);
      const tables = new TableLayer(this.catalog, config, topology);
      this.layer = tables;
      this.place = tables.place;
    } else {
      this.layer = new FolderLayer(this.store, (id, schema) => this.fileSchemaOf(id, schema) as FileSchema);
      this.place = placeInFolders;
    }
    this.worker = new GroupWorker({
      ...options,
      kafka: this.kafka,
      groupId: this.groupId,
      name: 'sink',
      // KafkaJS matches a pattern against the topics that exist at subscribe time: a source added later needs a restart.
      topics: [new RegExp(`^${escapeRegExp(this.rawPrefix)}[a-z0-9-]+$`), this.names.nearDuplicates, this.names.deadLetter],
      partitionsConsumedConcurrently: 4,
      summary: () => this.logSummary(),
    });
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
    await this.catalog?.ensureNamespace(topology.namespace).catch((err: unknown) => {
      if (err instanceof DependencyRefusedError) throw err;
      logger.warn({ err: describeError(err) }, 'the catalog does not answer yet; the sink waits for it');
    });
    this.spoolDir = this.prepareSpool();

    await this.worker.start({
      batch: (batch, turn) => this.processBatch(batch, turn),
      revoked: (topic, partition) => this.revoke(partitionKey(topic, partition)),
    });
    const tick = Math.max(100, Math.min(1_000, Math.floor(this.rotation.idleFlushMs / 2)));
    this.flushTimer = setInterval(() => void this.flushIdle(), tick);
    this.flushTimer.unref();
    logger.info({ group: this.groupId, store: this.store.url, rotation: this.rotation }, 'sink running');
  }

  private role(topic: string): TopicRole {
    if (topic === this.names.nearDuplicates) return { kind: 'near-duplicates', source: undefined };
    if (topic === this.names.deadLetter) return { kind: 'quarantine', source: undefined };
    return { kind: 'raw', source: topic.slice(this.rawPrefix.length) };
  }

  private partitionSink(topic: string, partition: number): PartitionSink {
    const key = partitionKey(topic, partition);
    let ps = this.partitions.get(key);
    if (!ps) {
      ps = new PartitionSink(topic, partition, {
        layer: this.layer,
        spoolDir: this.spoolDir,
        rotation: this.rotation,
        metrics: this.metrics,
        logger: this.options.logger,
        rewind: (offset) => this.worker.seek(topic, partition, offset),
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

  /** A batch into the partition's files; offsets are committed for the records in published files. */
  private async processBatch(batch: Batch, turn: Turn): Promise<void> {
    const role = this.role(batch.topic);
    const ps = this.partitionSink(batch.topic, batch.partition);
    await turn.wait(() => this.schemas.fetch(schemaIdsOf(batch.messages)));
    try {
      for (const m of batch.messages) {
        if (!turn.running()) break;
        // What the store or disk left undone (a rotated file, bytes a failed disk kept) is finished before the next record is
        // taken: a record never waits in memory behind it. Nearly every record finds nothing to do, and costs no retry wrapper.
        if (ps.unsettled) await turn.wait(() => ps.settle());
        await turn.wait(() => this.append(ps, role, batch.topic, batch.partition, m));
        turn.resolve(m.offset);
      }
      if (ps.unsettled) await turn.wait(() => ps.settle());
    } catch (err) {
      if (!(err instanceof SupersededError)) throw err;
      // The partition is read again from where its records are not all in the layer; nothing is committed before.
      this.options.logger.warn({ topic: batch.topic, partition: batch.partition, from: err.from, err: err.message }, 'partition read again');
      return;
    }
    await this.commit(ps);
  }

  /**
   * One record into its file. A record that cannot be stored for a reason of its own (a value no
   * column can hold) is set aside into quarantine with stage.internal_error, so the partition goes
   * on; a store or disk that fails is the caller's to wait out, never the record's fault.
   */
  private async append(ps: PartitionSink, role: TopicRole, topic: string, partition: number, m: KafkaMessage): Promise<void> {
    try {
      await ps.append(Number(m.offset), readSinkRecord(role, topic, partition, m, this.schemas, this.deadLetter!, this.whyNotStorable, this.place));
    } catch (err) {
      if (!mayBlameRecord(err)) throw err;
      this.metrics.isolated.inc({ topic });
      this.options.logger.warn(
        { topic, partition, offset: m.offset, err: safeMessage(err) },
        'record set aside into quarantine: storing it failed in a way retrying cannot fix',
      );
      // A contract the layer cannot hold (a table column whose type it cannot change in place) is the writer schema's fault.
      const error = {
        code: err instanceof SchemaError ? ('decode.incompatible_schema' as const) : ('stage.internal_error' as const),
        field: null,
        message: safeMessage(err),
      };
      await ps.append(Number(m.offset), quarantineRecord(role, topic, partition, m, this.deadLetter!, error, this.place));
    }
  }

  private async commit(ps: PartitionSink): Promise<void> {
    const offset = ps.committable();
    if (offset !== undefined) await this.worker.commitOffset(ps.topic, ps.partition, BigInt(offset));
  }

  private revoke(key: string): void {
    this.partitions.get(key)?.discard();
    this.partitions.delete(key);
  }

  /** Closes idle files and publishes them; a file the store does not take stays owned and is published at the next tick or batch. */
  private async flushIdle(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.partitions].map(([key, ps]) =>
        this.worker
          .inTurn(ps.topic, ps.partition, async () => {
            // A stop publishes every open file itself: an idle flush queued before it would only make it wait on the store.
            if (this.stopping || this.partitions.get(key) !== ps) return;
            try {
              await ps.flushIdle(now);
              this.worker.waitEnded(key);
            } catch (err) {
              if (err instanceof SupersededError) return;
              if (!isDependencyFailure(err)) throw err;
              if (this.worker.waitStarted(key, err))
                this.options.logger.warn(
                  { key, code: err.code, err: err.message },
                  'idle flush waits for the store; the file stays owned and is published again',
                );
            }
            await this.commit(ps);
          })
          .catch((err) => this.options.logger.error({ key, err: describeError(err) }, 'idle flush failed')),
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
    clearInterval(this.flushTimer);
    await this.worker.stop(async () => {
      await Promise.all(
        [...this.partitions].map(([key, ps]) =>
          this.worker
            .inTurn(ps.topic, ps.partition, async () => {
              if (this.partitions.get(key) !== ps) return;
              await ps.flushAll();
              await this.commit(ps);
            })
            .catch((err) => this.options.logger.error({ key, err: describeError(err) }, 'final flush failed; the records will be read again')),
        ),
      );
    });
    fs.rmSync(this.spoolDir, { recursive: true, force: true });
    this.store.close();
  }
}
