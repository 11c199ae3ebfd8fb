/**
 * The local stack (`c360 stack up | down | status`): Kafka, the schema registry, Redis, an S3-compatible store and an Iceberg REST catalog on loopback.
 * Its Kafka is one broker, or with `--brokers 3` a cluster of three beside it (the failure tests); `--sftp` adds an SFTP drop.
 * `up` is idempotent and waits for readiness; `down` stops only what `up` started.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StackError } from '../../src/contracts/errors.js';
import { catalogPart } from './catalog.js';
import { clusterParts, kafkaPart, securedKafkaPart } from './kafka.js';
import type { StackPart } from './part.js';
import { stackPaths } from './paths.js';
import { logFile, runningPid, startDetached, stopProcess, tailLog, waitFor } from './processes.js';
import { redisPart } from './redis.js';
import { registryPart } from './registry.js';
import { s3Part } from './s3.js';
import { ensureDevSecrets } from './secrets.js';
import { sftpPart } from './sftp.js';

/** The stack's shapes: one broker (the demo, the tests), or the three-broker cluster beside the same registry, Redis and S3. */
export type Brokers = 1 | 3;
const SHAPES: Record<Brokers, readonly StackPart[]> = {
  1: [redisPart, kafkaPart, registryPart, s3Part, catalogPart],
  3: [redisPart, registryPart, s3Part, catalogPart, ...clusterParts],
};
const ALL_PARTS: readonly StackPart[] = [...SHAPES[1], ...clusterParts, sftpPart];

export interface UpOptions {
  brokers?: Brokers;
  /** The single broker also listens with TLS, mutual TLS and SASL_SSL (SCRAM, OAUTHBEARER), certificates from a CA made at start. */
  secure?: boolean;
  /** Also an SFTP drop into a landing zone (OpenSSH, a chrooted SFTP-only user). */
  sftp?: boolean;
}

function partsOf({ brokers = 1, secure = false, sftp = false }: UpOptions): readonly StackPart[] {
  const shape = SHAPES[brokers];
  // The secured listeners are the single broker's: with the cluster, that broker runs beside it.
  const parts = !secure ? shape : brokers === 1 ? shape.map((p) => (p === kafkaPart ? securedKafkaPart : p)) : [...shape, securedKafkaPart];
  return sftp ? [...parts, sftpPart] : parts;
}

type PartState = 'running (started by c360)' | 'running (not started by c360)' | 'starting' | 'stopped';

export interface PartStatus {
  name: string;
  address: string;
  state: PartState;
  pid?: number;
}

export interface UpReport extends PartStatus {
  action: 'started' | 'already running';
  /** Time spent fetching and preparing (a cold start downloads from Maven Central). */
  prepareMs: number;
  readyMs: number;
}

export async function stackUp(home: string, onProgress: (line: string) => void = () => undefined, options: UpOptions = {}): Promise<UpReport[]> {
  const parts = partsOf(options);
  ensureDevSecrets(home);
  const paths = stackPaths(home);
  fs.mkdirSync(paths.state, { recursive: true });
  // Downloads and preparation run one after the other (Maven shares its local repository); the JVMs then start together.
  const pending: { part: StackPart; prepareMs: number; startedAt: number }[] = [];
  const reports: UpReport[] = [];
  for (const part of parts) {
    if (await part.answers()) {
      part.afterReady?.(paths);
      reports.push({ ...(await statusOf(part, paths.state)), action: 'already running', prepareMs: 0, readyMs: 0 });
      onProgress(`${part.name}: already running at ${part.address}`);
      continue;
    }
    const t0 = Date.now();
    const proc = part.prepare(paths);
    const prepareMs = Date.now() - t0;
    if (runningPid(paths.state, part.name) !== undefined && (await part.outdated?.())) {
      onProgress(`${part.name}: running with other settings than asked; restarting it`);
      await stopProcess(paths.state, part.name);
    }
    if (runningPid(paths.state, part.name) === undefined) {
      onProgress(`${part.name}: starting (logs: ${logFile(paths.state, part.name)})`);
      startDetached(paths.state, proc);
    }
    pending.push({ part, prepareMs, startedAt: Date.now() });
  }
  const started = await Promise.all(
    pending.map(async ({ part, prepareMs, startedAt }) => {
      await waitFor(
        async () => {
          if (runningPid(paths.state, part.name) === undefined) {
            throw new StackError(`${part.name} exited during start-up; last lines of ${logFile(paths.state, part.name)}:\n${tailLog(paths.state, part.name)}`);
          }
          return part.answers();
        },
        part.readyTimeoutMs,
        () =>
          // The log's last lines go with the error: CI prints what a command says, not the files it leaves (seen: a CI broker that never answered, with no log to read).
          new StackError(
            `${part.name} did not become ready at ${part.address} within ${part.readyTimeoutMs / 1000}s; last lines of ${logFile(paths.state, part.name)}:\n${tailLog(paths.state, part.name)}`,
          ),
      );
      part.afterReady?.(paths);
      const readyMs = Date.now() - startedAt;
      onProgress(`${part.name}: ready at ${part.address} after ${(readyMs / 1000).toFixed(1)}s`);
      return { ...(await statusOf(part, paths.state)), action: 'started' as const, prepareMs, readyMs };
    }),
  );
  return [...reports, ...started].sort((a, b) => parts.findIndex((p) => p.name === a.name) - parts.findIndex((p) => p.name === b.name));
}

export async function stackDown(home: string, options: { purge?: boolean; only?: string[] } = {}): Promise<{ name: string; stopped: boolean }[]> {
  const paths = stackPaths(home);
  const results: { name: string; stopped: boolean }[] = [];
  // Reverse order: the registry and Kafka clients go before the services they lean on.
  for (const part of [...ALL_PARTS].reverse().filter((p) => !options.only || options.only.includes(p.name))) {
    results.push({ name: part.name, stopped: await stopProcess(paths.state, part.name) });
  }
  if (options.purge) {
    fs.rmSync(path.join(paths.state, 'kafka', 'data'), { recursive: true, force: true });
    fs.rmSync(path.join(paths.state, 'kafka-cluster'), { recursive: true, force: true });
  }
  return results;
}

/** The parts of the shape asked for; with one broker, the cluster's nodes too while any of them runs. */
export async function stackStatus(home: string, brokers: Brokers = 1): Promise<PartStatus[]> {
  const paths = stackPaths(home);
  const statuses = await Promise.all(SHAPES[brokers].map((part) => statusOf(part, paths.state)));
  if (brokers === 1) {
    const cluster = await Promise.all(clusterParts.map((part) => statusOf(part, paths.state)));
    if (cluster.some((s) => s.state !== 'stopped')) statuses.push(...cluster);
  }
  return statuses;
}

async function statusOf(part: StackPart, stateDir: string): Promise<PartStatus> {
  const pid = runningPid(stateDir, part.name);
  const answers = await part.answers();
  const state: PartState = answers
    ? pid !== undefined
      ? 'running (started by c360)'
      : 'running (not started by c360)'
    : pid !== undefined
      ? 'starting'
      : 'stopped';
  return { name: part.name, address: part.address, state, ...(pid !== undefined ? { pid } : {}) };
}
