/**
 * The topology runner: consume-transform-produce in Kafka transactions, Kafka Streams style.
 * Each fetched batch of one input partition passes every stage, is routed, and is committed in
 * one transaction together with its input offsets and its ledger entry, so output, offsets and
 * counts move together or not at all (exactly once into the output topics, read_committed).
 * Stages that wait on Redis or the registry retry with backoff while the batch holds, keeping
 * the group membership alive: nothing passes unchecked and nothing is dropped.
 */

import type { Redis } from 'ioredis';
import type { Batch, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { DependencyUnavailableError, describeError, safeMessage } from '../contracts/errors.js';
import { addCounts, emptyCounts, type LedgerCounts } from '../contracts/ledger.js';
import { checkLineage } from '../contracts/lineage.js';
import { topicNames } from '../contracts/topic-names.js';
import type { Topology } from '../contracts/topology-definition.js';
import { crashPoint } from '../faults/failpoints.js';
import { createKafka } from '../kafka/client.js';
import { consumerMetrics, recordLag } from '../kafka/consumer-metrics.js';
import { type GroupMembership, groupConsumer } from '../kafka/membership.js';
import { sendInRequests } from '../kafka/send.js';
import type { Logger } from '../observability/logger.js';
import type { KeyStore } from '../privacy/key-store.js';
import { openKeyStore } from '../privacy/key-store.js';
import { Pseudonyms } from '../privacy/pseudonyms.js';
import { DependencyWaits, waitOut } from '../retry.js';
import { loadSchema } from '../schema/avro.js';
import { type CompiledEntity, compileEntities } from '../schema/entity.js';
import { createSchemaRegistry, WriterSchemas } from '../schema/registry.js';
import { newEnvelope } from '../stages/envelope.js';
import { STAGES } from '../stages/index.js';
import type { BatchControl, Stage, StageContext } from '../stages/stage.js';
import { openObjectStore } from '../storage/backends.js';
import type { ObjectStore } from '../storage/object-store.js';
import { createRedis } from '../storage/redis.js';
import { runContained } from './containment.js';
import { type TopologyMetrics, topologyMetrics } from './metrics.js';
import { PartitionTurns } from './partition-turns.js';
import { PartitionProducers } from './producers.js';
import { type RouterContext, route } from './router.js';
import { deadLetterContract, prepareTopologyTopics, registerTopologySchemas } from './setup.js';

export interface RunnerOptions {
  config: Config;
  topology: Topology;
  logger: Logger;
  metrics: Registry;
  /** Consumer session timeout: how long a crashed worker's partitions wait before moving (min 6 s on a default broker). */
  sessionTimeoutMs?: number;
  partitionsConsumedConcurrently?: number;
  summaryIntervalMs?: number;
  /** Upper bound of one fetch per partition, hence of one batch and one transaction. */
  maxBatchBytes?: number;
  /** Called when the consumer stops for good (a non-retriable error): a worker process should exit and be restarted. */
  onFatal?: (error: Error) => void;
}

// Fencing only: a transactional id the ACLs refuse (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) stays a failure that stops the worker.
const FENCED = /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH/;

export class TopologyRunner {
  readonly groupId: string;
  private readonly kafka: Kafka;
  private readonly redis: Redis;
  /** Every entity of every source, by id; and each source's entities, primary first. */
  private readonly entities: Map<string, CompiledEntity>;
  private readonly entitiesOfSource: Map<string, CompiledEntity[]>;
  private readonly byTopic: Map<string, CompiledEntity>;
  private readonly producers: PartitionProducers;
  private readonly metrics: TopologyMetrics;
  private readonly consumerMetrics: ReturnType<typeof consumerMetrics>;
  private readonly keyStore: KeyStore | undefined;
  private readonly totals = new Map<string, LedgerCounts>();
  private consumer: Consumer | undefined;
  private stages: Stage[] = [];
  private router: RouterContext | undefined;
  /** Topics whose max.message.bytes is below the broker's: a produce request holds no more of their messages than that. */
  private batchLimits: ReadonlyMap<string, number> = new Map();
  private summaryTimer: NodeJS.Timeout | undefined;
  /** Its consumer's place in the group, once started: what /readyz and /healthz report (src/cli/ops.ts). */
  membership: GroupMembership | undefined;
  private stopping = false;
  /** Per partition of this worker with records waiting: since when it has not moved. */
  private readonly waitingSince = new Map<string, number>();
  /** One batch in flight per input partition, and what this worker committed of each (partition-turns.ts). */
  private readonly turns = new PartitionTurns();
  private readonly waits = new DependencyWaits();
  /** Where dead letters too large for their topic keep their original values: the raw layer's storage, opened when first needed. */
  private originals: ObjectStore | undefined;

  constructor(private readonly options: RunnerOptions) {
    const { config, topology, logger } = options;
    this.groupId = topicNames(topology.namespace).topologyGroup;
    this.kafka = createKafka(config, logger, 'topology');
    this.redis = createRedis(config, logger.child({ component: 'redis' }));
    this.entitiesOfSource = new Map(topology.sources.map((s) => [s.name, compileEntities(s)]));
    this.entities = new Map([...this.entitiesOfSource.values()].flat().map((e) => [e.id, e]));
    const names = topicNames(topology.namespace);
    this.byTopic = new Map([...this.entitiesOfSource.values()].map(([primary]) => [names.ingest(primary!.source), primary!]));
    this.producers = new PartitionProducers(this.kafka, this.groupId);
    this.metrics = topologyMetrics(options.metrics);
    this.consumerMetrics = consumerMetrics(options.metrics);
    this.keyStore = topology.stages.some((s) => s === 'encrypt' || s === 'suppress') ? openKeyStore(config, topology.namespace) : undefined;
  }

  /** Creates topics, registers schemas, joins the group and starts consuming; resolves once running. */
  async start(): Promise<void> {
    const { topology, config, logger } = this.options;
    await prepareTopologyTopics(this.kafka, topology, this.options.config);
    const schemas = await registerTopologySchemas(createSchemaRegistry(config), topology, this.entities.values(), config.schemaCompatibility);
    await this.redis.connect();
    // A key store that refuses at start (a wrong password, no privileges) is a setting to fix: one sentence, and the worker does not start.
    await this.keyStore?.check();
    // Producers that encode with the contracts this worker registered need no registry round trip.
    const writerSchemas = new WriterSchemas(config);
    for (const e of this.entities.values()) writerSchemas.remember(schemas.ingest.get(e.id)!, e.schema);

    const ctx: StageContext = {
      topology,
      entities: this.entities,
      entitiesOfSource: this.entitiesOfSource,
      redis: this.redis,
      writerSchemas,
      pseudonyms: config.piiKey ? new Pseudonyms(config.piiKey) : undefined,
      keyStore: this.keyStore,
      cacheEntries: config.memory.cacheEntries,
      now: Date.now,
    };
    this.stages = topology.stages.map((name) => STAGES.require(name, 'topology stages').create(ctx));
    this.router = {
      topologyName: topology.name,
      topics: topicNames(topology.namespace),
      rawSchemaIds: schemas.raw,
      deadLetter: await deadLetterContract(config, this.kafka, topology.namespace, schemas.deadLetter),
      nearDuplicate: { id: schemas.nearDuplicate, type: loadSchema('NearDuplicate').type },
      now: Date.now,
    };
    this.batchLimits = new Map([[this.router.topics.deadLetter, this.router.deadLetter.maxMessageBytes]]);

    const { consumer, membership } = groupConsumer(this.kafka, {
      groupId: this.groupId,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      maxBytesPerPartition: this.options.maxBatchBytes,
      memory: config.memory,
    });
    this.consumer = consumer;
    this.membership = membership;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      logger.info({ assignment: e.payload.memberAssignment, memberId: e.payload.memberId }, 'joined topology group');
      void this.producers.retain(e.payload.memberAssignment);
      this.waitingSince.clear();
    });
    consumer.on(consumer.events.CRASH, (e) => {
      logger.error({ err: describeError(e.payload.error), restart: e.payload.restart }, 'topology consumer crashed');
      if (!e.payload.restart) this.options.onFatal?.(e.payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.byTopic.keys()], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 6,
      eachBatch: (payload) => this.processBatch(payload),
    });
    this.summaryTimer = setInterval(() => this.logSummary(), this.options.summaryIntervalMs ?? 10_000);
    this.summaryTimer.unref();
    logger.info({ group: this.groupId, sources: [...this.entitiesOfSource.keys()], stages: topology.stages }, 'topology running');
  }

  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    recordLag(this.consumerMetrics.lag, this.groupId, batch.topic, batch.partition, batch.highWatermark, BigInt(batch.firstOffset() ?? batch.lastOffset()));
    this.metrics.inFlight.inc(batch.messages.length);
    try {
      const position = `${batch.topic}[${batch.partition}]`;
      await this.turns.take(position, () => this.processRecords(payload, position));
    } finally {
      this.metrics.inFlight.dec(batch.messages.length);
    }
  }

  private async processRecords({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload, position: string): Promise<void> {
    const source = this.byTopic.get(batch.topic)!;
    if (!this.waitingSince.has(position)) this.waitingSince.set(position, Date.now());
    const endTimer = this.metrics.batchSeconds.startTimer({ source: source.source });
    const control: BatchControl = { heartbeat, isRunning: () => isRunning() && !isStale() && !this.stopping };

    const messages = await this.skipCommitted(batch, position);
    if (messages.length === 0) {
      resolveOffset(batch.lastOffset());
      return;
    }
    const envelopes = messages.map((m) => {
      const { lineage, problem } = checkLineage(m, batch.topic, batch.partition, source.source);
      return newEnvelope(source, batch.topic, batch.partition, m, lineage, problem);
    });
    await runContained(
      this.stages,
      envelopes,
      (stage, subset) => this.withRetry(stage, () => stage.process(subset, control), control, position),
      (e, stage, err) => {
        this.metrics.poison.inc({ source: source.source, stage: stage.name });
        this.options.logger.warn(
          { topic: e.topic, partition: e.partition, offset: e.message.offset, ingestId: e.lineage.ingestId, stage: stage.name, err: safeMessage(err) },
          'record isolated and dead-lettered: processing it failed in a way retrying cannot fix',
        );
      },
    );
    crashPoint('after-stages');
    if (!control.isRunning()) throw new Error('batch abandoned: the worker is stopping or lost the partition');

    const routed = route(this.router!, envelopes);
    // A dead letter that refers to its original value out of line is sent only once that value is stored.
    for (const o of routed.outOfLine) {
      const store = (this.originals ??= openObjectStore(this.options.config));
      await waitOut(() => store.putIfAbsent(o.key, o.bytes), {
        key: position,
        logger: this.options.logger,
        waits: this.waits,
        shouldContinue: control.isRunning,
        onRetry: () => control.heartbeat(),
      });
    }
    const producer = await this.producers.get(batch.topic, batch.partition);
    const txn = await producer.transaction();
    const next = BigInt(batch.lastOffset()) + 1n;
    try {
      await sendInRequests(txn, routed.topicMessages, this.batchLimits);
      crashPoint('after-send');
      await txn.sendOffsets({
        consumerGroupId: this.groupId,
        topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next.toString() }] }],
      });
      await txn.commit();
      this.metrics.transactions.inc({ outcome: 'committed' });
    } catch (err) {
      this.metrics.transactions.inc({ outcome: 'aborted' });
      const fenced = FENCED.test(String((err as { type?: string }).type));
      if (!fenced) await txn.abort().catch(() => undefined);
      // A fenced producer, or one left mid-commit or mid-abort, cannot begin another: the next attempt gets a new one
      // (skipCommitted), which also settles a commit that failed here but was prepared at the coordinator.
      await this.producers.drop(batch.topic, batch.partition);
      if (fenced) {
        // Another worker's producer for the partition fenced ours (the group moves it), or the coordinator aborted a
        // transaction that outlasted its timeout (a broker stalled). KafkaJS calls fencing not retriable and would stop
        // the consumer, and the process with it; the batch is given up instead, to be read again by whoever owns the
        // partition after the rebalance, or by this worker with a new producer. No cause: KafkaJS judges by the root one.
        this.options.logger.warn({ topic: batch.topic, partition: batch.partition }, 'producer fenced; the batch will be read again');
        throw new DependencyUnavailableError('kafka', `the producer of ${position} was fenced: ${describeError(err)}`);
      }
      throw err;
    }
    crashPoint('after-commit');
    this.turns.committed(position, next);
    resolveOffset(batch.lastOffset());
    recordLag(this.consumerMetrics.lag, this.groupId, batch.topic, batch.partition, batch.highWatermark, next);
    if (next >= BigInt(batch.highWatermark)) this.waitingSince.delete(position);
    else this.waitingSince.set(position, Date.now());

    this.account(
      source.source,
      routed.counts,
      routed.errors,
      envelopes.flatMap((e) => e.nearDuplicates.map((n) => n.kind)),
      envelopes.reduce((n, e) => n + e.nearDuplicateCandidatesBelowThreshold, 0),
    );
    endTimer();
    await heartbeat().catch(() => undefined);
  }

  /**
   * The batch's records not yet committed: none below what this worker committed of the partition
   * itself (a batch handed over again after a rejoin: partition-turns.ts). A new producer for the
   * partition (this worker's first batch of it, or the first after a failed transaction) has made the
   * coordinator finish the last transaction of its id — including a commit that reported failure but
   * was prepared, here or on the worker that had the partition before — so the group's offset is read
   * again and records below it are skipped too.
   */
  private async skipCommitted(batch: Batch, position: string): Promise<KafkaMessage[]> {
    let committed: bigint | undefined;
    if (!this.producers.isOpen(batch.topic, batch.partition)) {
      await this.producers.get(batch.topic, batch.partition);
      committed = await this.committedOffset(batch.topic, batch.partition);
      this.turns.committed(position, committed);
    }
    const fresh = this.turns.uncommitted(position, batch.messages);
    if (fresh.length < batch.messages.length) {
      this.options.logger.warn(
        { topic: batch.topic, partition: batch.partition, committed: committed?.toString(), skipped: batch.messages.length - fresh.length },
        'records already committed skipped',
      );
    }
    return fresh;
  }

  /** The group's committed offset of a partition (-1 when none), as the group coordinator has it now. */
  private async committedOffset(topic: string, partition: number): Promise<bigint> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: this.groupId, topics: [topic] });
      return BigInt(committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1');
    } finally {
      await admin.disconnect();
    }
  }

  /** Runs a stage, waiting out its dependencies (waitOut); anything else fails the stage for containment to judge. */
  private withRetry(stage: Stage, run: () => Promise<void> | void, control: BatchControl, position: string): Promise<void> {
    return waitOut(async () => run(), {
      key: position,
      logger: this.options.logger.child({ stage: stage.name }),
      waits: this.waits,
      shouldContinue: control.isRunning,
      onRetry: async () => {
        this.metrics.dependencyRetries.inc({ stage: stage.name });
        await control.heartbeat();
      },
    });
  }

  /** What this worker's partitions wait on (Redis, the key store, the registry, the store): /readyz says it. */
  waitingOn(): string[] {
    return this.waits.describe();
  }

  private account(source: string, counts: LedgerCounts, errors: Record<string, number>, nearKinds: string[], belowThreshold: number): void {
    let t = this.totals.get(source);
    if (!t) this.totals.set(source, (t = emptyCounts()));
    addCounts(t, counts);
    this.metrics.recordsIn.inc({ source }, counts.in);
    this.metrics.routed.inc({ source, route: 'raw' }, counts.raw);
    this.metrics.routed.inc({ source, route: 'duplicate' }, counts.duplicates);
    this.metrics.routed.inc({ source, route: 'dead_letter' }, counts.dead_letter);
    this.metrics.routed.inc({ source, route: 'suppressed' }, counts.suppressed);
    for (const [code, n] of Object.entries(errors)) this.metrics.errors.inc({ source, code }, n);
    for (const kind of nearKinds) this.metrics.nearDuplicates.inc({ source, kind });
    this.metrics.nearDuplicatesBelowThreshold.inc({ source }, belowThreshold);
  }

  /** What this worker has committed since it started (the ledger topic has the totals of every worker). */
  committed(): Map<string, LedgerCounts> {
    return new Map([...this.totals].map(([k, v]) => [k, { ...v }]));
  }

  private logSummary(): void {
    const total = emptyCounts();
    for (const c of this.totals.values()) addCounts(total, c);
    this.options.logger.info({ ...total, bySource: Object.fromEntries(this.totals) }, 'topology summary');
  }

  /** Partitions of this worker whose records have waited longer than `ms` without one being committed: a stall /readyz reports. */
  stalledPartitions(ms: number): string[] {
    const now = Date.now();
    return [...this.waitingSince].filter(([, since]) => now - since > ms).map(([position]) => position);
  }

  /** Graceful stop: the batch in flight finishes (or aborts), the group is left, then the producers close. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.summaryTimer);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producers.closeAll();
    this.redis.disconnect();
    await this.keyStore?.close();
    this.originals?.close();
    this.logSummary();
  }
}
