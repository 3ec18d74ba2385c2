import { z } from 'zod';
import { roundUsd } from '../domain/money.js';
import type { Queryable } from './db.js';
import type { UnfinishedItem } from './items.js';
import { RESULT_SELECT } from './results.js';
import { ResultRow } from './rows.js';

/** The order the sample is picked in: a hash of batch id and position, random-looking yet repeatable. */
const SAMPLE_ORDER = `md5(batch_id || ':' || seq)`;

/**
 * Picks a batch's sample: `size` items ordered by a hash of the batch id and position, so the
 * pick looks random across the batch yet a retry takes the same items. Idempotent: a second call
 * returns the items already marked.
 */
export async function pickSample(db: Queryable, batchId: string, size: number): Promise<number> {
  await db.query(
    `INSERT INTO sample_items (batch_id, seq)
     SELECT batch_id, seq FROM items WHERE batch_id = $1
       AND NOT EXISTS (SELECT 1 FROM sample_items WHERE batch_id = $1)
       -- Items the result cache already answered cost nothing and tell nothing: not sampled.
       AND NOT EXISTS (SELECT 1 FROM results r WHERE r.batch_id = items.batch_id AND r.seq = items.seq)
     ORDER BY ${SAMPLE_ORDER} LIMIT $2
     ON CONFLICT DO NOTHING`,
    [batchId, size],
  );
  const { rows } = await db.query(`SELECT count(*)::int AS n FROM sample_items WHERE batch_id = $1`, [batchId]);
  return rows[0].n;
}

/**
 * The items a batch's sample will most likely take (pickSample's order, before the result cache
 * answers any): how many, and their prompt tokens. What the submit answer warns about.
 */
export async function likelySampleTokens(db: Queryable, batchId: string, size: number): Promise<{ items: number; inputTokens: number }> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS items, COALESCE(sum(est_input_tokens), 0)::bigint AS input_tokens
     FROM (SELECT est_input_tokens FROM items WHERE batch_id = $1 ORDER BY ${SAMPLE_ORDER} LIMIT $2) s`,
    [batchId, size],
  );
  return { items: rows[0].items, inputTokens: rows[0].input_tokens };
}

/** The sampled items still without a final outcome (a retried sample resumes with them). */
export async function unfinishedSampleItems(db: Queryable, batchId: string): Promise<UnfinishedItem[]> {
  const { rows } = await db.query(
    `SELECT i.seq, i.input, r.error, i.est_input_tokens FROM sample_items s
     JOIN items i ON i.batch_id = s.batch_id AND i.seq = s.seq
     LEFT JOIN results r ON r.batch_id = s.batch_id AND r.seq = s.seq
     WHERE s.batch_id = $1 AND (r.seq IS NULL OR r.status = 'pending')
     ORDER BY s.seq`,
    [batchId],
  );
  return rows;
}

export const SampleTally = z.object({
  size: z.int(),
  succeeded: z.int(),
  failed: z.int(),
  cost_usd: z.number(),
  input_tokens: z.number(),
  cached_input_tokens: z.number(),
  output_tokens: z.number(),
  reasoning_tokens: z.number(),
});
export type SampleTally = z.infer<typeof SampleTally>;

/** The sample's outcomes, cost and token usage, read from its results. */
export async function tallySample(db: Queryable, batchId: string): Promise<SampleTally> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS size,
            count(*) FILTER (WHERE r.status = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
            COALESCE(sum(r.prior_cost_usd + r.cost_usd), 0) AS cost_usd,
            COALESCE(sum((add_usage(r.prior_usage, r.usage)->>'input_tokens')::bigint), 0) AS input_tokens,
            COALESCE(sum((add_usage(r.prior_usage, r.usage)->>'cached_input_tokens')::bigint), 0) AS cached_input_tokens,
            COALESCE(sum((add_usage(r.prior_usage, r.usage)->>'output_tokens')::bigint), 0) AS output_tokens,
            COALESCE(sum((add_usage(r.prior_usage, r.usage)->>'reasoning_tokens')::bigint), 0) AS reasoning_tokens
     FROM sample_items s LEFT JOIN results r ON r.batch_id = s.batch_id AND r.seq = s.seq
     WHERE s.batch_id = $1`,
    [batchId],
  );
  return SampleTally.parse(rows[0]);
}

/** What the sampled items among seqs [seq_start, seq_end) cost: the sample's share of a chunk's tally. */
export async function sampleCostInRange(db: Queryable, batchId: string, range: { seq_start: number; seq_end: number }): Promise<number> {
  const { rows } = await db.query(
    `SELECT COALESCE(sum(r.prior_cost_usd + r.cost_usd), 0) AS cost_usd
     FROM sample_items s JOIN results r ON r.batch_id = s.batch_id AND r.seq = s.seq
     WHERE s.batch_id = $1 AND s.seq >= $2 AND s.seq < $3`,
    [batchId, range.seq_start, range.seq_end],
  );
  return roundUsd(Number(rows[0].cost_usd));
}

/** Per chunk, the items the sample did not take: what is left to run after approval. */
export async function itemsLeftPerChunk(db: Queryable, batchId: string): Promise<number[]> {
  const { rows } = await db.query(
    `SELECT c.item_count - count(s.seq)::int AS left
     FROM chunks c LEFT JOIN sample_items s ON s.batch_id = c.batch_id AND s.seq >= c.seq_start AND s.seq < c.seq_end
     WHERE c.batch_id = $1 GROUP BY c.idx, c.item_count ORDER BY c.idx`,
    [batchId],
  );
  return rows.map((r: { left: number }) => r.left);
}

export const SampleRow = z.object({
  size: z.int(),
  succeeded: z.int(),
  failed: z.int(),
  cost_usd: z.number(),
  projected_total_usd: z.number(),
});
export type SampleRow = z.infer<typeof SampleRow>;

export async function saveSample(db: Queryable, batchId: string, s: SampleRow): Promise<void> {
  await db.query(
    `INSERT INTO batch_samples (batch_id, size, succeeded, failed, cost_usd, projected_total_usd) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (batch_id) DO UPDATE SET size = EXCLUDED.size, succeeded = EXCLUDED.succeeded, failed = EXCLUDED.failed,
       cost_usd = EXCLUDED.cost_usd, projected_total_usd = EXCLUDED.projected_total_usd`,
    [batchId, s.size, s.succeeded, s.failed, s.cost_usd, s.projected_total_usd],
  );
}

export async function findSample(db: Queryable, batchId: string): Promise<SampleRow | null> {
  const { rows } = await db.query(`SELECT size, succeeded, failed, cost_usd, projected_total_usd FROM batch_samples WHERE batch_id = $1`, [
    batchId,
  ]);
  return rows[0] ? SampleRow.parse(rows[0]) : null;
}

/** The sample's results in `seq` order, a page at a time. */
export async function sampleResultPage(
  db: Queryable,
  batchId: string,
  q: { offset: number; limit: number },
): Promise<{ rows: ResultRow[]; total: number }> {
  const { rows } = await db.query(
    `${RESULT_SELECT} JOIN sample_items s ON s.batch_id = i.batch_id AND s.seq = i.seq
     WHERE i.batch_id = $1 ORDER BY i.seq LIMIT $2 OFFSET $3`,
    [batchId, q.limit, q.offset],
  );
  const { rows: count } = await db.query(`SELECT count(*)::int AS n FROM sample_items WHERE batch_id = $1`, [batchId]);
  return { rows: rows.map((r) => ResultRow.parse(r)), total: count[0].n };
}
