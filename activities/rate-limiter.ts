import { sleep } from '@temporalio/activity';
import { z } from 'zod';
import type { Db } from '../store/db.js';
import { tryAcquire, type BucketSpec } from '../store/rate-limits.js';

export const RateLimit = z.strictObject({ rpm: z.number().positive().optional(), tpm: z.number().positive().optional() });
/** `{"openai": {"rpm": 500}, "openai/gpt-4.1-mini": {"rpm": 5000, "tpm": 2000000}}`: the most specific key wins. */
export const RateLimits = z.record(z.string(), RateLimit);
export type RateLimits = z.infer<typeof RateLimits>;

const UNLIMITED = 1e12;

/**
 * A limit shared by every worker through one PostgreSQL row. A token bucket of capacity C
 * grants at most C − 1 + rate × 60 requests in any (half-open) 60-second window, so requests
 * refill at (rpm − C + 1)/60 per second: a provider's sliding window never sees more than `rpm`, while the
 * few spare tokens absorb the jitter of many workers waking to take them (a bucket of one loses
 * every refill nobody is waiting for at that instant). Tokens refill at tpm/60 per second into
 * a bucket that holds a second's worth (or the request).
 */
export class SharedRateLimiter {
  constructor(
    private readonly db: Db,
    readonly key: string,
    private readonly limit: z.infer<typeof RateLimit>,
    // The activity's sleep wakes on cancellation, so a cancelled chunk never waits out a bucket.
    private readonly wait: (ms: number) => Promise<void> = sleep,
  ) {}

  static for(db: Db, limits: RateLimits, provider: string, model: string, wait?: (ms: number) => Promise<void>): SharedRateLimiter | null {
    const key = limits[`${provider}/${model}`] ? `${provider}/${model}` : limits[provider] ? provider : null;
    return key ? new SharedRateLimiter(db, key, limits[key]!, wait) : null;
  }

  async acquire(tokens: number): Promise<void> {
    const { rpm, tpm } = this.limit;
    const burst = rpm ? requestBurst(rpm) : 0;
    const spec: BucketSpec = {
      requestRate: rpm ? (rpm - burst + 1) / 60 : UNLIMITED,
      requestCapacity: rpm ? burst : UNLIMITED,
      tokenRate: tpm ? tpm / 60 : UNLIMITED,
      tokenCapacity: tpm ? Math.max(tpm / 60, tokens) : UNLIMITED,
    };
    for (;;) {
      const r = await tryAcquire(this.db, this.key, spec, tpm ? tokens : 0);
      if (r.granted) return;
      await this.wait(r.waitMs);
    }
  }
}

/** 1 up to 199 RPM, growing to 5 from 500 RPM: under 0.5% of the limit, never more than a few calls. */
export function requestBurst(rpm: number): number {
  return Math.max(1, Math.min(5, Math.floor(rpm / 100)));
}
