/**
 * The topology runner: consume-transform-produce in Kafka transactions, Kafka Streams style.
 * Each fetched batch of one input partition passes every stage, is routed, and is committed in
 * one transaction together with its input offsets and its ledger entry, so output, offsets and
 * counts move together or not at all (exactly once into the output topics, read_committed).
 * Stages that wait on Redis or the registry retry with backoff while the batch holds, keeping
 * the group membership alive: nothing passes unchecked and nothing is dropped.
 */

import type { Redis } from 'ioredis';
import type { Batch, Kafka, KafkaMessage } from 'kafkajs';
import { safeMessage } from '../contracts/errors.js';
import { addCounts, emptyCounts, type LedgerCounts } from '../contracts/ledger.js';
import { checkLineage } from '../contracts/lineage.js';
import { topicNames } from '../contracts/topic-names.js';
import type { Topology } from '../contracts/topology-definition.js';
import { crashPoint } from '../faults/failpoints.js';
import { createKafka } from '../kafka/client.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { ExactlyOnce } from '../kafka/worker/exactly-once.js';
import { GroupWorker, type Turn, type WorkerOptions } from '../kafka/worker/group-worker.js';
import { PARTITIONS_AT_ONCE } from '../kafka/worker/membership.js';
import { PartitionProducers } from '../kafka/worker/producers.js';
import { endSpan, processAttributes, type Span, SpanKind, startSpan, traceparentOf, tracingOn } from '../observability/tracing.js';
import type { KeyStore } from '../privacy/key-store.js';
import { openKeyStore } from '../privacy/key-store.js';
import { Pseudonyms } from '../privacy/pseudonyms.js';
import { loadSchema } from '../schema/avro.js';
import { type CompiledEntity, compileEntities } from '../schema/entity.js';
import { createSchemaRegistry, WriterSchemas } from '../schema/registry.js';
import { type Envelope, newEnvelope } from '../stages/envelope.js';
import { STAGES } from '../stages/index.js';
import type { BatchControl, Stage, StageContext } from '../stages/stage.js';
import { openObjectStore } from '../storage/backends.js';
import type { ObjectStore } from '../storage/object-store.js';
import { createRedis } from '../storage/redis.js';
import { compactnessAdvice } from '../storage/sliced-state.js';
import { runContained } from './containment.js';
import { type TopologyMetrics, topologyMetrics } from './metrics.js';
import { type Routed, type RouterContext, route } from './router.js';
import { deadLetterContract, prepareTopologyTopics, registerTopologySchemas } from './setup.js';

export interface RunnerOptions extends WorkerOptions {
  topology: Topology;
  partitionsConsumedConcurrently?: number;
  /** Upper bound of one fetch per partition, hence of one batch and one transaction. */
  maxBatchBytes?: number;
}

/** A changelog's whole window is read to rebuild Redis: far more than a ledger read, yet bounded, and given up on a stop. */
const REBUILD_TIMEOUT_MS = 15 * 60_000;

export class TopologyRunner {
  readonly groupId: string;
  /** Its place in the group, its partitions' waits and stalls: what /readyz and /healthz report (src/cli/ops.ts). */
  readonly worker: GroupWorker;
  private readonly kafka: Kafka;
  private readonly redis: Redis;
  /** Every entity of every source, by id; and each source's entities, primary first. */
  private readonly entities: Map<string, CompiledEntity>;
  private readonly entitiesOfSource: Map<string, CompiledEntity[]>;
  private readonly byTopic: Map<string, CompiledEntity>;
  private readonly producers: PartitionProducers;
  private readonly exactlyOnce: ExactlyOnce;
  private readonly metrics: TopologyMetrics;
  private readonly keyStore: KeyStore | undefined;
  private readonly totals = new Map<string, LedgerCounts>();
  private stages: Stage[] = [];
  private router: RouterContext | undefined;
  /** Topics whose max.message.bytes is below the broker's: a produce request holds no more of their messages than that. */
  private batchLimits: ReadonlyMap<string, number> = new Map();
  /** Where dead letters too large for their topic keep their original values: the raw layer's storage, opened when first needed. */
  private originals: ObjectStore | undefined;
  /** Aborted when the worker stops: a rebuild of lost state in flight gives up rather than hold the stop. */
  private readonly stopping = new AbortController();

  constructor(private readonly options: RunnerOptions) {
    const { config, topology, logger } = options;
    const names = topicNames(topology.namespace);
    this.groupId = names.topologyGroup;
    this.kafka = createKafka(config, logger, 'topology');
    this.redis = createRedis(config, logger.child({ component: 'redis' }));
    this.entitiesOfSource = new Map(topology.sources.map((s) => [s.name, compileEntities(s)]));
    this.entities = new Map([...this.entitiesOfSource.values()].flat().map((e) => [e.id, e]));
    this.byTopic = new Map([...this.entitiesOfSource.values()].map(([primary]) => [names.ingest(primary!.source), primary!]));
    this.producers = new PartitionProducers(this.kafka, this.groupId);
    this.exactlyOnce = new ExactlyOnce(this.producers, this.groupId, logger);
    this.metrics = topologyMetrics(options.metrics);
    this.keyStore = topology.stages.some((s) => s === 'encrypt' || s === 'suppress') ? openKeyStore(config, topology.namespace) : undefined;
    this.worker = new GroupWorker({
      ...options,
      kafka: this.kafka,
      groupId: this.groupId,
      name: 'topology',
      topics: [...this.byTopic.keys()],
      maxBytesPerPartition: options.maxBatchBytes,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? PARTITIONS_AT_ONCE,
      summary: () => this.logSummary(),
    });
  }

  /** Creates topics, registers schemas, joins the group and starts consuming; resolves once running. */
  async start(): Promise<void> {
    const { topology, config, logger } = this.options;
    await prepareTopologyTopics(this.kafka, topology, config);
    const schemas = await registerTopologySchemas(createSchemaRegistry(config), topology, this.entities.values(), config.schemaCompatibility);
    await this.redis.connect();
    const advice = await compactnessAdvice(this.redis);
    if (advice) logger.info(advice);
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
      readChangelog: (topic, each) => this.readChangelog(topic, each),
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
    await this.worker.start({
      batch: (batch, turn) => this.processBatch(batch, turn),
      revoked: (topic, partition) => this.producers.drop(topic, partition),
    });
    logger.info({ group: this.groupId, sources: [...this.entitiesOfSource.keys()], stages: topology.stages }, 'topology running');
  }

  private async processBatch(batch: Batch, turn: Turn): Promise<void> {
    this.metrics.inFlight.inc(batch.messages.length);
    try {
      await this.processRecords(batch, turn);
    } finally {
      this.metrics.inFlight.dec(batch.messages.length);
    }
  }

  /** A batch through every stage and the router, then out in one transaction with its input offsets. */
  private async processRecords(batch: Batch, turn: Turn): Promise<void> {
    const source = this.byTopic.get(batch.topic)!;
    const endTimer = this.metrics.batchSeconds.startTimer({ source: source.source });
    const messages = await this.exactlyOnce.uncommitted(batch.topic, batch.partition, batch.messages);
    if (messages.length === 0) {
      turn.resolve(batch.lastOffset());
      return;
    }
    const envelopes = messages.map((m) => {
      const { lineage, problem } = checkLineage(m, batch.topic, batch.partition, source.source);
      return newEnvelope(source, batch.topic, batch.partition, m, lineage, problem);
    });
    const spans = tracingOn() ? this.recordSpans(envelopes) : undefined;
    let routed: Routed;
    let next: bigint;
    try {
      await this.runStages(envelopes, turn, source.source);
      crashPoint('after-stages');
      if (!turn.running()) throw new Error('batch abandoned: the worker is stopping or lost the partition');

      routed = route(this.router!, envelopes);
      await this.storeOriginals(routed, turn);
      next = BigInt(batch.lastOffset()) + 1n;
      try {
        await this.exactlyOnce.commit({ topic: batch.topic, partition: batch.partition, next }, routed.topicMessages, this.batchLimits, async () => {
          for (const stage of this.stages) await stage.beforeCommit?.(envelopes);
        });
        this.metrics.transactions.inc({ outcome: 'committed' });
      } catch (err) {
        this.metrics.transactions.inc({ outcome: 'aborted' });
        throw err;
      }
    } catch (err) {
      for (const span of spans ?? []) endSpan(span, err);
      throw err;
    }
    spans?.forEach((span, i) => {
      span.setAttribute('c360.route', envelopes[i]!.outcome);
      endSpan(span);
    });
    crashPoint('after-commit');
    turn.resolve(batch.lastOffset());
    this.worker.committed(batch.topic, batch.partition, next);
    this.account(source.source, routed, envelopes);
    endTimer();
  }

  /** A span per record under the trace it arrived in; what the record becomes goes on as that span's child. */
  private recordSpans(envelopes: Envelope[]): Span[] {
    return envelopes.map((e) => {
      const span = startSpan(`process ${e.topic}`, {
        kind: SpanKind.CONSUMER,
        parent: e.lineage.trace,
        attributes: {
          ...processAttributes(e.topic, e.partition),
          'messaging.kafka.offset': Number(e.message.offset),
          'messaging.consumer.group.name': this.groupId,
          'c360.source': e.lineage.source,
          'c360.ingest_id': e.lineage.ingestId,
        },
      })!;
      e.lineage.trace = traceparentOf(span);
      return span;
    });
  }

  /** Every stage over the batch, each waiting out its dependencies; a record that fails a stage alone is isolated (containment.ts). */
  private runStages(envelopes: Envelope[], turn: Turn, source: string): Promise<void> {
    const control: BatchControl = { heartbeat: turn.heartbeat, isRunning: turn.running };
    return runContained(
      this.stages,
      envelopes,
      (stage, subset) =>
        turn.wait(async () => stage.process(subset, control), {
          logger: this.options.logger.child({ stage: stage.name }),
          onRetry: () => this.metrics.dependencyRetries.inc({ stage: stage.name }),
        }),
      (e, stage, err) => {
        this.metrics.poison.inc({ source, stage: stage.name });
        this.options.logger.warn(
          { topic: e.topic, partition: e.partition, offset: e.message.offset, ingestId: e.lineage.ingestId, stage: stage.name, err: safeMessage(err) },
          'record isolated and dead-lettered: processing it failed in a way retrying cannot fix',
        );
      },
    );
  }

  /** A state's changelog read to its end, for a stage rebuilding what Redis lost; logged, since every claim waits for it. */
  private async readChangelog(topic: string, each: (m: KafkaMessage) => void): Promise<void> {
    const started = Date.now();
    let messages = 0;
    this.options.logger.warn({ topic }, 'Redis lost a state of this topology; rebuilding it from its changelog before going on');
    await readToEnd(
      this.kafka,
      topic,
      (m) => {
        messages++;
        each(m);
      },
      REBUILD_TIMEOUT_MS,
      this.stopping.signal,
    );
    this.options.logger.info({ topic, messages, ms: Date.now() - started }, 'state rebuilt from its changelog');
  }

  /** A dead letter that refers to its original value out of line is sent only once that value is stored. */
  private async storeOriginals(routed: Routed, turn: Turn): Promise<void> {
    for (const o of routed.outOfLine) {
      const store = (this.originals ??= openObjectStore(this.options.config));
      await turn.wait(() => store.putIfAbsent(o.key, o.bytes));
    }
  }

  private account(source: string, { counts, errors, warnings }: Routed, envelopes: Envelope[]): void {
    let t = this.totals.get(source);
    if (!t) this.totals.set(source, (t = emptyCounts()));
    addCounts(t, counts);
    this.metrics.recordsIn.inc({ source }, counts.in);
    this.metrics.routed.inc({ source, route: 'raw' }, counts.raw);
    this.metrics.routed.inc({ source, route: 'duplicate' }, counts.duplicates);
    this.metrics.routed.inc({ source, route: 'dead_letter' }, counts.dead_letter);
    this.metrics.routed.inc({ source, route: 'suppressed' }, counts.suppressed);
    for (const [code, n] of Object.entries(errors)) this.metrics.errors.inc({ source, code }, n);
    for (const [code, n] of Object.entries(warnings)) this.metrics.warnings.inc({ source, code }, n);
    let belowThreshold = 0;
    for (const e of envelopes) {
      for (const n of e.nearDuplicates) this.metrics.nearDuplicates.inc({ source, kind: n.kind });
      belowThreshold += e.nearDuplicateCandidatesBelowThreshold;
    }
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

  /** Graceful stop: the batch in flight finishes (or aborts), the group is left, then the producers close. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.worker.stop();
    await this.producers.closeAll();
    this.redis.disconnect();
    await this.keyStore?.close();
    this.originals?.close();
  }
}
