import { z } from 'zod';
import type { Queryable } from './db.js';

export const ProviderJobRow = z.object({
  job_key: z.string(),
  batch_id: z.string(),
  chunk_idx: z.int(),
  attempt: z.int(),
  provider: z.string(),
  input_file_id: z.string().nullable(),
  provider_batch_id: z.string().nullable(),
  status: z.string(),
  item_count: z.int(),
  cancel_requested: z.boolean(),
  updated_at: z.date(),
});
export type ProviderJobRow = z.infer<typeof ProviderJobRow>;

/** The identity of one provider batch Drover pays for; also sent to the provider as metadata. */
export function jobKey(batchId: string, chunkIdx: number, attempt: number): string {
  return `${batchId}:${chunkIdx}:${attempt}`;
}

export async function findJob(db: Queryable, key: string): Promise<ProviderJobRow | null> {
  const { rows } = await db.query('SELECT * FROM provider_jobs WHERE job_key = $1', [key]);
  return rows[0] ? ProviderJobRow.parse(rows[0]) : null;
}

/** The job of a chunk's latest attempt, if any: the one whose provider batch may still run. */
export async function latestJob(db: Queryable, batchId: string, chunkIdx: number): Promise<ProviderJobRow | null> {
  const { rows } = await db.query('SELECT * FROM provider_jobs WHERE batch_id = $1 AND chunk_idx = $2 ORDER BY attempt DESC LIMIT 1', [
    batchId,
    chunkIdx,
  ]);
  return rows[0] ? ProviderJobRow.parse(rows[0]) : null;
}

/** Claims the key before any provider call; returns the existing row when a previous try got further. */
export async function reserveJob(
  db: Queryable,
  j: { tenant_id: string; batch_id: string; chunk_idx: number; attempt: number; provider: string; item_count: number },
): Promise<ProviderJobRow> {
  const key = jobKey(j.batch_id, j.chunk_idx, j.attempt);
  await db.query(
    `INSERT INTO provider_jobs (tenant_id, batch_id, chunk_idx, attempt, provider, job_key, status, item_count)
     VALUES ($1, $2, $3, $4, $5, $6, 'reserved', $7) ON CONFLICT (job_key) DO NOTHING`,
    [j.tenant_id, j.batch_id, j.chunk_idx, j.attempt, j.provider, key, j.item_count],
  );
  return (await findJob(db, key))!;
}

/** A file staged again after the provider lost it keeps the job `creating`: a create may follow at any moment. */
export async function recordInputFile(db: Queryable, key: string, fileId: string): Promise<void> {
  await db.query(
    `UPDATE provider_jobs SET input_file_id = $2, status = CASE WHEN status = 'creating' THEN status ELSE 'uploaded' END, updated_at = now() WHERE job_key = $1`,
    [key, fileId],
  );
}

/**
 * Records the provider batch of a job unless one is recorded already, and returns the one that
 * stands. Two live tries of one submit (a stalled worker outlived by its retry) can both create:
 * the first to record wins, and the loser sees another id and cancels its own.
 */
export async function recordProviderBatch(
  db: Queryable,
  key: string,
  providerBatchId: string,
): Promise<{ providerBatchId: string; cancelRequested: boolean }> {
  const { rows } = await db.query(
    `WITH won AS (
       UPDATE provider_jobs SET provider_batch_id = $2, status = 'submitted', updated_at = now()
       WHERE job_key = $1 AND provider_batch_id IS NULL RETURNING provider_batch_id, cancel_requested)
     SELECT provider_batch_id, cancel_requested FROM won
     UNION ALL SELECT provider_batch_id, cancel_requested FROM provider_jobs WHERE job_key = $1 AND NOT EXISTS (SELECT 1 FROM won)`,
    [key, providerBatchId],
  );
  const row = rows[0] as { provider_batch_id: string; cancel_requested: boolean } | undefined;
  if (!row) throw new Error(`provider job ${key} is not in the store`);
  return { providerBatchId: row.provider_batch_id, cancelRequested: row.cancel_requested };
}

/**
 * Moves a job to `creating` just before the paid create call, unless a cancel asked first: false
 * means the chunk is being cancelled and nothing may be created.
 */
export async function markCreating(db: Queryable, key: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE provider_jobs SET status = 'creating', updated_at = now() WHERE job_key = $1 AND NOT cancel_requested`,
    [key],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Marks a job cancelled before the cancel looks for its provider batch. A job that does not exist
 * yet is created marked, so a submit that claims the key later finds the mark and stops. The
 * mark leaves `updated_at` alone: it dates the `creating` step that provider lookups start from.
 */
export async function requestCancel(
  db: Queryable,
  j: { tenant_id: string; batch_id: string; chunk_idx: number; attempt: number; provider: string },
): Promise<ProviderJobRow> {
  const key = jobKey(j.batch_id, j.chunk_idx, j.attempt);
  const { rows } = await db.query(
    `INSERT INTO provider_jobs (tenant_id, batch_id, chunk_idx, attempt, provider, job_key, status, item_count, cancel_requested)
     VALUES ($1, $2, $3, $4, $5, $6, 'cancelled', 0, true)
     ON CONFLICT (job_key) DO UPDATE SET cancel_requested = true RETURNING *`,
    [j.tenant_id, j.batch_id, j.chunk_idx, j.attempt, j.provider, key],
  );
  return ProviderJobRow.parse(rows[0]);
}

export async function setJobStatus(db: Queryable, key: string, status: string): Promise<void> {
  await db.query('UPDATE provider_jobs SET status = $2, updated_at = now() WHERE job_key = $1', [key, status]);
}
