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

export async function recordInputFile(db: Queryable, key: string, fileId: string): Promise<void> {
  await db.query(`UPDATE provider_jobs SET input_file_id = $2, status = 'uploaded', updated_at = now() WHERE job_key = $1`, [key, fileId]);
}

export async function recordProviderBatch(db: Queryable, key: string, providerBatchId: string): Promise<void> {
  await db.query(
    `UPDATE provider_jobs SET provider_batch_id = $2, status = 'submitted', updated_at = now() WHERE job_key = $1`,
    [key, providerBatchId],
  );
}

export async function setJobStatus(db: Queryable, key: string, status: string): Promise<void> {
  await db.query('UPDATE provider_jobs SET status = $2, updated_at = now() WHERE job_key = $1', [key, status]);
}
