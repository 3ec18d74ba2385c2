import type { PreparedItem } from '../domain/item-validator.js';
import type { StoredInput } from '../domain/prompt.js';
import type { Queryable } from './db.js';
import type { ItemError } from '../domain/responses.js';

/** One statement per call, whatever the count: callers pass pages of a few thousand items. */
export async function insertItems(db: Queryable, tenantId: string, batchId: string, items: PreparedItem[]): Promise<void> {
  if (items.length === 0) return;
  await db.query(
    `INSERT INTO items (tenant_id, batch_id, seq, item_id, input, metadata, request_bytes, est_input_tokens)
     SELECT $1, $2, t.seq, t.item_id, t.input::jsonb, t.metadata::jsonb, t.request_bytes, t.est_input_tokens
     FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[]) AS t(seq, item_id, input, metadata, request_bytes, est_input_tokens)`,
    [
      tenantId,
      batchId,
      items.map((i) => i.seq),
      items.map((i) => i.item_id),
      items.map((i) => JSON.stringify(i.input)),
      items.map((i) => (i.metadata === null ? null : JSON.stringify(i.metadata))),
      items.map((i) => i.request_bytes),
      items.map((i) => i.est_input_tokens),
    ],
  );
}

/** Sizes in `seq` order after `afterSeq`, for chunk planning without loading item texts. */
export async function itemSizesPage(
  db: Queryable,
  batchId: string,
  afterSeq: number,
  limit: number,
): Promise<Array<{ seq: number; request_bytes: number; est_input_tokens: number }>> {
  const { rows } = await db.query(
    'SELECT seq, request_bytes, est_input_tokens FROM items WHERE batch_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
    [batchId, afterSeq, limit],
  );
  return rows;
}

/** As `itemSizesPage`, leaving out items that already have an outcome (answered from the result cache before planning). */
export async function unansweredItemSizesPage(
  db: Queryable,
  batchId: string,
  afterSeq: number,
  limit: number,
): Promise<Array<{ seq: number; request_bytes: number; est_input_tokens: number }>> {
  const { rows } = await db.query(
    `SELECT i.seq, i.request_bytes, i.est_input_tokens FROM items i
     WHERE i.batch_id = $1 AND i.seq > $2
       AND NOT EXISTS (SELECT 1 FROM results r WHERE r.batch_id = i.batch_id AND r.seq = i.seq AND r.status <> 'pending')
     ORDER BY i.seq LIMIT $3`,
    [batchId, afterSeq, limit],
  );
  return rows;
}

/** Items in a chunk that have no final outcome yet: what an attempt sends. */
export interface UnfinishedItem {
  seq: number;
  input: StoredInput;
  /** The last attempt's failure, which a repair prompt quotes back. */
  error: ItemError | null;
  est_input_tokens: number;
}

export async function unfinishedItems(db: Queryable, batchId: string, seqStart: number, seqEnd: number): Promise<UnfinishedItem[]> {
  const { rows } = await db.query(
    `SELECT i.seq, i.input, r.error, i.est_input_tokens FROM items i
     LEFT JOIN results r ON r.batch_id = i.batch_id AND r.seq = i.seq
     WHERE i.batch_id = $1 AND i.seq >= $2 AND i.seq < $3 AND (r.seq IS NULL OR r.status = 'pending')
     ORDER BY i.seq`,
    [batchId, seqStart, seqEnd],
  );
  return rows;
}

/**
 * A rerun's items: those of `fromBatch` whose outcome is one of `statuses`, copied inside
 * PostgreSQL (texts never pass through the API process) with their sizes and estimates, numbered
 * from 0 in their old order. Returns how many were copied.
 */
export async function copyItemsForRerun(
  db: Queryable,
  tenantId: string,
  fromBatch: string,
  toBatch: string,
  statuses: readonly string[],
): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO items (tenant_id, batch_id, seq, item_id, input, metadata, request_bytes, est_input_tokens)
     SELECT $1, $3, (row_number() OVER (ORDER BY i.seq) - 1)::int, i.item_id, i.input, i.metadata, i.request_bytes, i.est_input_tokens
     FROM items i LEFT JOIN results r ON r.batch_id = i.batch_id AND r.seq = i.seq
     WHERE i.batch_id = $2 AND i.tenant_id = $1 AND COALESCE(r.status, 'pending') = ANY($4::text[])`,
    [tenantId, fromBatch, toBatch, statuses],
  );
  return rowCount ?? 0;
}
