/** What a stage is, and what every stage is built from. Stages are registered by name in stages/index.ts. */
import type { Redis } from 'ioredis';
import type { WriterSchemas } from '../schema/registry.js';
import type { Topology } from '../topology/definition.js';
import type { Envelope } from '../topology/envelope.js';
import type { CompiledSource } from '../topology/compiled-source.js';

export interface BatchControl {
  /** Keeps the consumer's group membership alive while a stage waits (on Redis, say). */
  heartbeat(): Promise<void>;
  isRunning(): boolean;
}

export interface Stage {
  name: string;
  /** Looks only at envelopes still pending; decides their outcome or enriches them. */
  process(batch: Envelope[], control: BatchControl): Promise<void> | void;
}

export interface StageContext {
  topology: Topology;
  /** Every entity of every source, by id (`crm`, `commerce/Product`). */
  sources: ReadonlyMap<string, CompiledSource>;
  /** Each source's entities, the primary first. */
  entities: ReadonlyMap<string, readonly CompiledSource[]>;
  redis: Redis;
  writerSchemas: WriterSchemas;
  now(): number;
}

export type StageFactory = (ctx: StageContext) => Stage;
