import { createHash } from 'node:crypto';
import { z } from 'zod';
import { TERMINAL_BATCH_STATUSES } from '../domain/responses.js';
import type { PoolClient } from 'pg';
import type { Db, Queryable } from './db.js';

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

/**
 * Provider batch ids recorded for jobs of `provider` since `since`: a lookup for a lost create
 * never returns one of these, since they belong to other jobs.
 */
export async function recordedBatchIds(db: Queryable, provider: string, since: Date): Promise<Set<string>> {
  const { rows } = await db.query<{ provider_batch_id: string }>(
    'SELECT provider_batch_id FROM provider_jobs WHERE provider = $1 AND provider_batch_id IS NOT NULL AND updated_at >= $2',
    [provider, since],
  );
  return new Set(rows.map((r) => r.provider_batch_id));
}

/**
 * Jobs of `provider` caught `creating` with no provider batch recorded, oldest first: each may
 * have made a batch whose id was lost (a crash between create and record). `olderThan` leaves
 * out creates that may still be running.
 */
export async function unsettledCreates(
  db: Queryable,
  provider: string,
  opts: { exceptKey?: string; olderThan?: Date; since: Date },
): Promise<ProviderJobRow[]> {
  const { rows } = await db.query(
    `SELECT * FROM provider_jobs
     WHERE provider = $1 AND status = 'creating' AND provider_batch_id IS NULL AND job_key <> $2
       AND updated_at >= $3 AND updated_at <= $4
     ORDER BY updated_at`,
    [provider, opts.exceptKey ?? '', opts.since, opts.olderThan ?? new Date(8.64e15)],
  );
  return rows.map((r) => ProviderJobRow.parse(r));
}

/**
 * A create that was looked for at the provider, under the create lock, and is not there: the
 * job goes back to `reserved`, so its next try creates instead of looking again.
 */
export async function markCreateLost(db: Queryable, key: string): Promise<void> {
  await db.query(
    `UPDATE provider_jobs SET status = 'reserved', updated_at = now() WHERE job_key = $1 AND status = 'creating' AND provider_batch_id IS NULL`,
    [key],
  );
}

/** What the orphan reconciler needs of a recorded job: whether anyone will still collect its batch. */
export interface RecordedJob {
  job_key: string;
  provider_batch_id: string;
  /** The Drover batch has ended, the attempt was cancelled, or a later attempt replaced it. */
  ended: boolean;
}

/** The jobs that recorded these provider batch ids, with whether each one's chunk attempt has ended. */
export async function jobsByProviderBatch(db: Queryable, provider: string, ids: string[]): Promise<Map<string, RecordedJob>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<RecordedJob>(
    `SELECT j.job_key, j.provider_batch_id,
            (j.cancel_requested
             OR b.status = ANY($3)
             OR EXISTS (SELECT 1 FROM provider_jobs n WHERE n.batch_id = j.batch_id AND n.chunk_idx = j.chunk_idx AND n.attempt > j.attempt)
            ) AS ended
     FROM provider_jobs j JOIN batches b ON b.id = j.batch_id
     WHERE j.provider = $1 AND j.provider_batch_id = ANY($2)`,
    [provider, ids, TERMINAL_BATCH_STATUSES],
  );
  return new Map(rows.map((r) => [r.provider_batch_id, r]));
}

/** Whether the Drover batch a job key names is in this store: only its own batches are Drover's to cancel. */
export async function batchExists(db: Queryable, batchId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM batches WHERE id = $1', [batchId]);
  return (rowCount ?? 0) > 0;
}

/** The Drover batch id of a job key (`batch:chunk:attempt`), or null when the text is not one. */
export function parseJobKey(key: string): { batchId: string; chunkIdx: number; attempt: number } | null {
  const m = /^(.+):(\d+):(\d+)$/.exec(key);
  return m ? { batchId: m[1]!, chunkIdx: Number(m[2]), attempt: Number(m[3]) } : null;
}

/** How often a waiting create looks at the lock again. */
const LOCK_POLL_MS = 100;

/**
 * Runs `fn` holding a PostgreSQL session advisory lock named by `scope` (a provider and a hash of
 * its key and base URL, never the key): creates of a provider that cannot mark its batches
 * (Anthropic) run one at a time per workspace, so at most one is ever unrecorded and a lost one
 * is found unambiguously. The lock lives on its own connection: if this process dies, PostgreSQL
 * ends the session and frees the lock.
 */
export async function withCreateLock<T>(db: Db, scope: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const lockId = BigInt.asIntN(
    64,
    BigInt('0x' + createHash('sha256').update(`drover-create:${scope}`).digest('hex').slice(0, 16)),
  ).toString();
  let client: PoolClient;
  for (;;) {
    // A waiter holds no connection between tries: the holder needs the pool for its own queries.
    client = await db.connect();
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [lockId]).catch((err: Error) => {
      client.release(err);
      throw err;
    });
    if (rows[0]?.locked) break;
    client.release();
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted while waiting for the create lock');
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
  let broken: Error | undefined;
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [lockId]).catch((err: Error) => (broken = err));
    // A connection that could not unlock is closed: its session, and the lock, end with it.
    client.release(broken);
  }
}
