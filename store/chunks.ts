import type { ChunkRange } from '../domain/chunk-plan.js';
import { nanosToDecimal, type Nanos } from '../domain/money.js';
import type { Queryable } from './db.js';

/** Planning is deterministic, so a retried plan writes the same rows and conflicts are no-ops. */
export interface PlannedChunk extends ChunkRange {
  /** Expected cost (typical outputs) and the ceiling a budget reserves (maximal outputs), in nano-dollars. */
  est_cost_nanos: Nanos;
  max_cost_nanos: Nanos;
}

export async function saveChunks(db: Queryable, tenantId: string, batchId: string, chunks: PlannedChunk[]): Promise<void> {
  for (let i = 0; i < chunks.length; i += 5000) {
    const page = chunks.slice(i, i + 5000);
    await db.query(
      `INSERT INTO chunks (tenant_id, batch_id, idx, seq_start, seq_end, item_count, bytes, est_input_tokens, est_cost_usd, max_cost_usd)
       SELECT $1, $2, * FROM unnest($3::int[], $4::int[], $5::int[], $6::int[], $7::bigint[], $8::bigint[], $9::numeric[], $10::numeric[])
       ON CONFLICT (batch_id, idx) DO NOTHING`,
      [
        tenantId,
        batchId,
        page.map((c) => c.idx),
        page.map((c) => c.seq_start),
        page.map((c) => c.seq_end),
        page.map((c) => c.item_count),
        page.map((c) => c.bytes),
        page.map((c) => c.est_input_tokens),
        page.map((c) => nanosToDecimal(c.est_cost_nanos)),
        page.map((c) => nanosToDecimal(c.max_cost_nanos)),
      ],
    );
  }
}

export async function getChunk(db: Queryable, batchId: string, idx: number): Promise<ChunkRange> {
  const { rows } = await db.query(
    'SELECT idx, seq_start, seq_end, item_count, bytes, est_input_tokens FROM chunks WHERE batch_id = $1 AND idx = $2',
    [batchId, idx],
  );
  if (!rows[0]) throw new Error(`chunk ${idx} of batch ${batchId} is not planned`);
  return rows[0];
}

/** Per-chunk estimates of up to `count` chunks from `from`: the batch reads its plan a page at a time. */
export async function chunkEstimatePage(
  db: Queryable,
  batchId: string,
  from: number,
  count: number,
): Promise<{ expectedUsd: number[]; reserveUsd: number[] }> {
  const { rows } = await db.query('SELECT est_cost_usd, max_cost_usd FROM chunks WHERE batch_id = $1 AND idx >= $2 ORDER BY idx LIMIT $3', [
    batchId,
    from,
    count,
  ]);
  return { expectedUsd: rows.map((r) => Number(r.est_cost_usd)), reserveUsd: rows.map((r) => Number(r.max_cost_usd)) };
}
