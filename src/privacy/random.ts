/**
 * Cryptographically random bytes for IVs and data keys, drawn from a pool: one randomBytes call
 * per 96 KiB instead of one per seal. A call for 12 bytes costs more than the AES-GCM it
 * serves. The pool is replaced, never refilled, so bytes handed
 * out are never handed out again nor change under their holder.
 */
import { randomBytes } from 'node:crypto';

const POOL_BYTES = 96 * 1024;
let pool = Buffer.alloc(0);
let at = 0;

/** `n` random bytes, a view of the pool: copy them when they are kept long (a key). */
export function pooledRandom(n: number): Buffer {
  if (at + n > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, n));
    at = 0;
  }
  at += n;
  return pool.subarray(at - n, at);
}
