/** What a stage is, and what every stage is built from. Stages are registered by name in stages/index.ts. */
import type { Redis } from 'ioredis';
import type { Topology } from '../contracts/topology-definition.js';
import type { KeyStore } from '../privacy/key-store.js';
import type { Pseudonyms } from '../privacy/pseudonyms.js';
import type { ComponentSpec } from '../registry.js';
import type { CompiledEntity } from '../schema/entity.js';
import type { WriterSchemas } from '../schema/registry.js';
import type { ReadChangelog } from '../storage/state-changelog.js';
import type { Envelope } from './envelope.js';

export interface BatchControl {
  /** Keeps the consumer's group membership alive while a stage waits (on Redis, say). */
  heartbeat(): Promise<void>;
  isRunning(): boolean;
}

export interface Stage {
  name: string;
  /** Looks only at envelopes still pending; decides their outcome or enriches them. */
  process(batch: Envelope[], control: BatchControl): Promise<void> | void;
  /**
   * Called once the batch's messages are sent and before its transaction commits: a stage whose
   * state changed under the batch (Redis lost it) throws, and the batch is read again.
   */
  beforeCommit?(batch: Envelope[]): Promise<void>;
}

export interface StageContext {
  topology: Topology;
  /** Every entity of every source, by id (`crm`, `commerce/Product`). */
  entities: ReadonlyMap<string, CompiledEntity>;
  /** Each source's entities, the primary first. */
  entitiesOfSource: ReadonlyMap<string, readonly CompiledEntity[]>;
  redis: Redis;
  writerSchemas: WriterSchemas;
  /** Keyed stand-ins for personal values kept outside the records (Redis); undefined when no C360_PII_KEY is configured. */
  pseudonyms: Pseudonyms | undefined;
  /** The subjects' keys, identifier links and suppressions; undefined unless the topology encrypts or suppresses. */
  keyStore: KeyStore | undefined;
  /** How many entries each of a stage's in-process caches may hold (from the memory budget, C360_MEMORY_MB). */
  cacheEntries: number;
  /** Reads a state's changelog topic to its end, to rebuild what Redis lost (storage/state-changelog.ts). */
  readChangelog: ReadChangelog;
  now(): number;
}

/**
 * Envelope fields only stages fill in; the others (the message, its position and lineage, the
 * outcome and its errors) every envelope has from the start (newEnvelope). The primary entity is
 * there from the start too, but only decoding says which of a source's entities a record is.
 */
type StageField = Exclude<keyof Envelope, 'topic' | 'partition' | 'message' | 'lineage' | 'lineageProblem' | 'outcome' | 'failedStage' | 'errors'>;

export interface StageSpec extends ComponentSpec {
  /**
   * What the stage reads of the fields stages fill in: each must be written by a stage earlier in
   * the topology, unless the stage writes it too (it then computes what no earlier stage did).
   * A topology is checked against these at load (topology/load.ts).
   */
  reads: readonly StageField[];
  /** What the stage fills in or changes. */
  writes: readonly StageField[];
  create(ctx: StageContext): Stage;
}

/** Declares a stage; the stage it builds carries the registered name. */
export function defineStage(spec: Omit<StageSpec, 'create'> & { create(ctx: StageContext): Omit<Stage, 'name'> }): StageSpec {
  return { ...spec, create: (ctx) => ({ name: spec.name, ...spec.create(ctx) }) };
}
