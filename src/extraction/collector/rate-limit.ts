/** The collector's per-key rate limit: a token bucket per API key, write key or app id, in each process. */

/** A token bucket per key: `take` says how long to wait before `n` events may go (0: they go now, and are counted). */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly limit: { eventsPerSecond: number; burst: number } | undefined) {}

  take(key: string, n: number, now = Date.now()): number {
    if (!this.limit) return 0;
    const { eventsPerSecond, burst } = this.limit;
    const b = this.buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * eventsPerSecond);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= n) {
      b.tokens -= n;
      return 0;
    }
    return ((n - b.tokens) / eventsPerSecond) * 1000;
  }
}
