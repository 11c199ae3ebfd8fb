/**
 * Poison-pill containment: a record whose processing throws an error that retrying cannot fix (a
 * bug, a value a library cannot handle) must not stall its partition for ever. The batch is
 * split in halves and each half goes on from the failing stage, until the one record that fails
 * alone is dead-lettered with `stage.internal_error`; every other record goes through once.
 */
import { mayBlameRecord, safeMessage } from '../contracts/errors.js';
import { type Envelope, reject } from '../stages/envelope.js';
import type { Stage } from '../stages/stage.js';

/**
 * Runs `stages` over the batch through `run` (which waits out retriable failures). A stage that
 * fails otherwise is retried on each half of the records; a lone record that still fails is
 * rejected, reported through `onPoison`, and the rest of the stages go on.
 */
export async function runContained(
  stages: readonly Stage[],
  batch: Envelope[],
  run: (stage: Stage, envelopes: Envelope[]) => Promise<void>,
  onPoison: (e: Envelope, stage: Stage, err: unknown) => void,
): Promise<void> {
  const from = async (first: number, envelopes: Envelope[]): Promise<void> => {
    for (let s = first; s < stages.length; s++) {
      const stage = stages[s]!;
      try {
        await run(stage, envelopes);
      } catch (err) {
        // Retriable here means the worker is stopping while a dependency is down, and a refusal stops it: neither is a record's fault.
        if (!mayBlameRecord(err)) throw err;
        if (envelopes.length > 1) {
          const mid = envelopes.length >> 1;
          await from(s, envelopes.slice(0, mid));
          await from(s, envelopes.slice(mid));
          return;
        }
        const e = envelopes[0]!;
        reject(e, stage.name, [{ code: 'stage.internal_error', field: null, message: safeMessage(err) }]);
        onPoison(e, stage, err);
      }
    }
  };
  if (batch.length > 0) await from(0, batch);
}
