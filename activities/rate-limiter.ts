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
 * A limit shared by every worker through one PostgreSQL row. Requests refill at rpm/60 per
 * second into a bucket that holds one, so no 60-second window ever sees more than `rpm`;
 * tokens refill at tpm/60 per second into a bucket that holds a second's worth (or the request).
 */
export class SharedRateLimiter {
  constructor(
    private readonly db: Db,
    readonly key: string,
    private readonly limit: z.infer<typeof RateLimit>,
  ) {}

  static for(db: Db, limits: RateLimits, provider: string, model: string): SharedRateLimiter | null {
    const key = limits[`${provider}/${model}`] ? `${provider}/${model}` : limits[provider] ? provider : null;
    return key ? new SharedRateLimiter(db, key, limits[key]!) : null;
  }

  async acquire(tokens: number): Promise<void> {
    const { rpm, tpm } = this.limit;
    const spec: BucketSpec = {
      requestRate: rpm ? rpm / 60 : UNLIMITED,
      requestCapacity: rpm ? 1 : UNLIMITED,
      tokenRate: tpm ? tpm / 60 : UNLIMITED,
      tokenCapacity: tpm ? Math.max(tpm / 60, tokens) : UNLIMITED,
    };
    for (;;) {
      const r = await tryAcquire(this.db, this.key, spec, tpm ? tokens : 0);
      if (r.granted) return;
      // The activity's sleep wakes on cancellation, so a cancelled chunk never waits out a bucket.
      await sleep(r.waitMs);
    }
  }
}
