import type { Queryable } from './db.js';
import type { BatchRow } from './rows.js';

/** How long an answer is kept unless DROVER_RESULT_CACHE_TTL_DAYS says otherwise. */
export const DEFAULT_RESULT_CACHE_TTL_MS = 30 * 24 * 3600_000;

/** Whether a batch remembers its answers: `use` and `refresh` do; `off`, and batches from before the cache, do not. */
export function remembers(batch: Pick<BatchRow, 'settings'>): boolean {
  return batch.settings.cache === 'use' || batch.settings.cache === 'refresh';
}

/**
 * Keeps the succeeded answers of a range of the batch (rememberAnswers), when the batch
 * remembers; what collects and realtime attempts call once their answers are written.
 */
export async function rememberBatchAnswers(
  db: Queryable,
  batch: Pick<BatchRow, 'id' | 'tenant_id' | 'settings'>,
  range: { seq_start: number; seq_end: number },
  ttlMs: number,
): Promise<void> {
  if (remembers(batch)) await rememberAnswers(db, batch.tenant_id, batch.id, range, ttlMs);
}

/**
 * The tenant's result cache (migration 013). Every statement names the tenant: an entry one
 * tenant paid for is never read, written over or purged by another.
 */

/**
 * Saves the keys of a page of items (worked out by the worker from the batch's prompt spec),
 * whose seqs lie in [from, to). The window bounds the join: without it, a batch PostgreSQL has no
 * statistics of yet was hashed whole for every page (0.8 s a page of 1,000 at 1,000,000 items).
 */
export async function setItemCacheKeys(
  db: Queryable,
  batchId: string,
  keys: Array<{ seq: number; key: string }>,
  window: { from: number; to: number },
): Promise<void> {
  if (keys.length === 0) return;
  await db.query(
    `UPDATE items i SET cache_key = t.key FROM unnest($2::int[], $3::text[]) AS t(seq, key)
     WHERE i.batch_id = $1 AND i.seq >= $4 AND i.seq < $5 AND i.seq = t.seq AND i.cache_key IS DISTINCT FROM t.key`,
    [batchId, keys.map((k) => k.seq), keys.map((k) => k.key), window.from, window.to],
  );
}

/**
 * Answers the items of `(afterSeq, uptoSeq]` whose key has a live entry: each gets a succeeded
 * result at no cost, `path` 'cache', naming the batch that paid. Rows already there are left as
 * they are, and the batch's hit count and saving grow by what was written, in the same statement,
 * so a retried call counts nothing twice.
 */
export async function answerFromCache(
  db: Queryable,
  tenantId: string,
  batchId: string,
  afterSeq: number,
  uptoSeq: number,
): Promise<{ hits: number; savedUsd: number }> {
  const { rows } = await db.query(
    `WITH hits AS (
       SELECT i.seq, c.output, c.citations, c.cost_usd, c.source_batch_id FROM items i
       JOIN result_cache c ON c.tenant_id = $1 AND c.key = i.cache_key AND c.expires_at > now()
       WHERE i.batch_id = $2 AND i.seq > $3 AND i.seq <= $4),
     ins AS (
       INSERT INTO results (tenant_id, batch_id, seq, status, output, error, usage, cost_usd, attempt, path, citations, cached_from)
       SELECT $1, $2, seq, 'succeeded', output, NULL, NULL, 0, 0, 'cache', citations, source_batch_id FROM hits
       ON CONFLICT (batch_id, seq) DO NOTHING
       RETURNING seq),
     total AS (SELECT count(*)::int AS hits, COALESCE(sum(h.cost_usd), 0) AS saved FROM ins JOIN hits h USING (seq)),
     upd AS (
       UPDATE batches SET cache_hits = cache_hits + total.hits, cache_saved_usd = cache_saved_usd + total.saved
       FROM total WHERE batches.id = $2 AND total.hits > 0)
     SELECT hits, saved FROM total`,
    [tenantId, batchId, afterSeq, uptoSeq],
  );
  return { hits: rows[0].hits, savedUsd: rows[0].saved };
}

/**
 * Remembers the answers the provider gave for a range of items: only succeeded ones (valid and
 * schema-conforming; a failed item is never cached), only of items that carry a key, never an
 * answer that itself came from the cache. An entry already there is replaced (a `refresh`
 * batch, or one that expired); its cost is what the item cost in all, earlier attempts included.
 */
export async function rememberAnswers(
  db: Queryable,
  tenantId: string,
  batchId: string,
  range: { seq_start: number; seq_end: number },
  ttlMs: number,
): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO result_cache (tenant_id, key, output, citations, usage, cost_usd, source_batch_id, expires_at)
     SELECT DISTINCT ON (i.cache_key) $1, i.cache_key, r.output, r.citations, add_usage(r.prior_usage, r.usage),
       r.prior_cost_usd + r.cost_usd, $2, now() + $5 * interval '1 millisecond'
     FROM results r JOIN items i ON i.batch_id = r.batch_id AND i.seq = r.seq
     WHERE r.batch_id = $2 AND r.seq >= $3 AND r.seq < $4 AND r.status = 'succeeded' AND r.path <> 'cache'
       AND i.seq >= $3 AND i.seq < $4 AND i.cache_key IS NOT NULL
     ORDER BY i.cache_key, r.seq
     ON CONFLICT (tenant_id, key) DO UPDATE SET output = EXCLUDED.output, citations = EXCLUDED.citations, usage = EXCLUDED.usage,
       cost_usd = EXCLUDED.cost_usd, source_batch_id = EXCLUDED.source_batch_id, created_at = now(), expires_at = EXCLUDED.expires_at
     WHERE result_cache.source_batch_id <> EXCLUDED.source_batch_id OR result_cache.expires_at <= now()`,
    [tenantId, batchId, range.seq_start, range.seq_end, ttlMs],
  );
  return rowCount ?? 0;
}

/** Forgets every entry of a tenant; returns how many there were. */
export async function purgeTenantCache(db: Queryable, tenantId: string): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM result_cache WHERE tenant_id = $1', [tenantId]);
  return rowCount ?? 0;
}

/** Drops entries that expired (they are never read; this only frees their space). */
export async function sweepExpired(db: Queryable, limit = 10_000): Promise<number> {
  const { rowCount } = await db.query(
    'DELETE FROM result_cache WHERE ctid = ANY(ARRAY(SELECT ctid FROM result_cache WHERE expires_at <= now() LIMIT $1))',
    [limit],
  );
  return rowCount ?? 0;
}
