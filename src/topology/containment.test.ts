import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { crmProfile } from '../../test/fixtures/records.js';
import { envelopeOf, offlineContext } from '../../test/support/stages.js';
import { DependencyUnavailableError, fileSystemFailure, safeMessage } from '../contracts/errors.js';
import { keyStoreFailure } from '../privacy/key-store.js';
import type { Envelope } from '../stages/envelope.js';
import type { Stage } from '../stages/stage.js';
import { runContained } from './containment.js';

const ctx = offlineContext();
const crm = ctx.entities.get('crm')!;
const batchOf = (n: number) => Array.from({ length: n }, (_, i) => envelopeOf(crm, JSON.stringify({ ...crmProfile, customer_id: `C-${i}` }), {}, `C-${i}`));
const keyOf = (e: Envelope) => e.message.key!.toString();

/** A stage that throws whenever its batch holds one of the poison keys, and counts what it processed. */
function stage(
  name: string,
  poison: string[] = [],
  error: () => Error = () => new TypeError('invalid "int": 3000000000'),
): Stage & { seen: Map<string, number> } {
  const seen = new Map<string, number>();
  return {
    name,
    seen,
    process(batch) {
      if (batch.some((e) => poison.includes(keyOf(e)))) throw error();
      for (const e of batch) if (e.outcome === 'pending') seen.set(keyOf(e), (seen.get(keyOf(e)) ?? 0) + 1);
    },
  };
}

async function contain(stages: Stage[], batch: Envelope[]) {
  const poisoned: string[] = [];
  await runContained(
    stages,
    batch,
    async (s, subset) => s.process(subset, { heartbeat: async () => undefined, isRunning: () => true }),
    (e, s) => poisoned.push(`${keyOf(e)}@${s.name}`),
  );
  return poisoned;
}

describe('poison-pill containment', () => {
  it('isolates the one record that fails, dead-letters it with its stage, and lets every other record through each later stage once', async () => {
    const batch = batchOf(100);
    const [a, b, c] = [stage('a'), stage('b', ['C-37']), stage('c')];
    expect(await contain([a, b, c], batch)).toEqual(['C-37@b']);
    const pill = batch.find((e) => keyOf(e) === 'C-37')!;
    expect(pill.outcome).toBe('dead-letter');
    expect(pill.failedStage).toBe('b');
    expect(pill.errors).toEqual([{ code: 'stage.internal_error', field: null, message: 'TypeError: invalid "…": 3000000000' }]);
    expect(batch.filter((e) => e.outcome === 'pending')).toHaveLength(99);
    expect([...c.seen.values()].every((n) => n === 1)).toBe(true);
    expect(c.seen.size).toBe(99);
    expect(a.seen.size).toBe(100);
  });

  it('isolates several, wherever they are', async () => {
    const batch = batchOf(64);
    expect((await contain([stage('a', ['C-0', 'C-63']), stage('b', ['C-31'])], batch)).sort()).toEqual(['C-0@a', 'C-31@b', 'C-63@a']);
    expect(batch.filter((e) => e.outcome === 'dead-letter')).toHaveLength(3);
  });

  it('does not blame records for an outage: a retriable error is thrown, the batch abandoned', async () => {
    const outage = stage('b', ['C-1'], () => new DependencyUnavailableError('redis', 'Redis is unreachable'));
    await expect(contain([outage], batchOf(4))).rejects.toThrow('Redis is unreachable');
  });

  it('does not blame records for a refusal either: what the key store makes of PostgreSQL refusing stops the batch, no record is dead-lettered', async () => {
    // The class pg throws for a revoked privilege, as KeyStore classifies it (src/privacy/key-store.int.test.ts revokes one for real).
    const denied = Object.assign(new pg.DatabaseError('permission denied for table c360_subject_keys', 0, 'error'), { code: '42501' });
    const refusal = stage('b', ['C-1'], () => keyStoreFailure(denied));
    const batch = batchOf(4);
    await expect(contain([refusal], batch)).rejects.toThrow(
      'the key store refused (permission denied for table c360_subject_keys, SQLSTATE 42501): grant the role of C360_KEY_STORE_URL its privileges on the c360_* tables.',
    );
    expect(batch.filter((e) => e.outcome === 'dead-letter')).toEqual([]);
  });

  it('does not blame records for a full disk', async () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const disk = stage('b', ['C-2'], () => fileSystemFailure('disk', 'writing /spool/f.tmp', full)!);
    const batch = batchOf(4);
    await expect(contain([disk], batch)).rejects.toThrow('writing /spool/f.tmp failed: ENOSPC');
    expect(batch.filter((e) => e.outcome === 'dead-letter')).toEqual([]);
  });

  it('keeps quoted values (which may be personal) out of the message', () => {
    expect(safeMessage(new Error('invalid "string": \'ann@example.com\'\nat line 2'))).toBe('Error: invalid "…": "…"');
  });
});
