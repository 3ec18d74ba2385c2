import { setImmediate as nextTurn } from 'node:timers/promises';
import { Context, log } from '@temporalio/activity';
import { requestCacheKey } from '../domain/cache-key.js';
import type { StoredInput } from '../domain/prompt.js';
import type { Db } from '../store/db.js';
import { answerFromCache, remembers, setItemCacheKeys, sweepExpired } from '../store/result-cache.js';
import type { CacheResolution } from '../workflows/contracts.js';
import { loadBatch } from './batches.js';
import { toChatRequest } from './chunks.js';

/** Items keyed (and looked up) per statement. */
const PAGE = 1000;
/** Expired entries dropped per batch that resolves: enough to keep up, never a long delete. */
const SWEEP = 1000;

export function createResultCacheActivities(db: Db) {
  return {
    /**
     * Keys every item of the batch by the request it would send (domain/cache-key.ts), and for
     * `cache: "use"` answers each item whose key has a live entry of the tenant's: a succeeded
     * result at no cost, `path` 'cache', written before planning so the plan (and every budget
     * reservation) covers only the misses. Item texts stay in the worker and the store; the
     * workflow gets counts and dollars. Retry-safe: keys are rewritten alike, answered rows are
     * left as they are and counted once.
     */
    async resolveCachedResults({ batchId }: { batchId: string }): Promise<CacheResolution> {
      const batch = await loadBatch(db, batchId);
      if (!remembers(batch)) return { hits: 0, savedUsd: 0 };
      let hits = 0;
      let savedUsd = 0;
      // Windows of seqs (items are numbered 0 to item_count - 1), so every statement touches at
      // most PAGE items whatever plan PostgreSQL picks for a batch it has no statistics of yet.
      for (let from = 0; from < batch.item_count; from += PAGE) {
        const to = from + PAGE;
        const { rows } = await db.query<{ seq: number; input: StoredInput }>(
          'SELECT seq, input FROM items WHERE batch_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq',
          [batchId, from, to],
        );
        const keys = rows.map((r) => ({ seq: r.seq, key: requestCacheKey(batch.provider, toChatRequest(batch.spec, r.input)) }));
        await setItemCacheKeys(db, batchId, keys, { from, to });
        if (batch.settings.cache === 'use') {
          const page = await answerFromCache(db, batch.tenant_id, batchId, from - 1, to - 1);
          hits += page.hits;
          savedUsd += page.savedUsd;
        }
        Context.current().heartbeat();
        await nextTurn();
      }
      const swept = await sweepExpired(db, SWEEP);
      if (swept > 0) log.info('expired result cache entries dropped', { swept });
      return { hits, savedUsd: Math.round(savedUsd * 1e12) / 1e12 };
    },
  };
}
