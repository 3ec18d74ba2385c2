import { TERMINAL_BATCH_STATUSES } from '../domain/responses.js';
import type { Queryable } from './db.js';

/** Batches by the status the store holds (queued, running, or how they ended): one scan of a small table. */
export async function batchesByStatus(db: Queryable): Promise<Array<{ status: string; n: number }>> {
  const { rows } = await db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM batches GROUP BY status');
  return rows;
}

/**
 * Provider batches recorded and neither collected nor cancelled, by provider: `in_flight` still
 * belong to a live chunk attempt; `unclaimed` belong to one that has ended (its batch ended, or a
 * later attempt replaced it) and have waited past `graceSeconds`: the orphans the reconciler
 * (DROVER_ORPHAN_RECONCILE_EVERY) should have cancelled.
 */
export async function providerJobsInFlight(
  db: Queryable,
  graceSeconds: number,
): Promise<Array<{ provider: string; in_flight: number; unclaimed: number }>> {
  const { rows } = await db.query(
    `SELECT provider, count(*) FILTER (WHERE NOT ended)::int AS in_flight,
            count(*) FILTER (WHERE ended AND updated_at < now() - make_interval(secs => $2))::int AS unclaimed
     FROM (SELECT j.provider, j.updated_at,
                  (b.status = ANY($1) OR EXISTS (SELECT 1 FROM provider_jobs n
                     WHERE n.batch_id = j.batch_id AND n.chunk_idx = j.chunk_idx AND n.attempt > j.attempt)) AS ended
           FROM provider_jobs j JOIN batches b ON b.id = j.batch_id
           WHERE j.provider_batch_id IS NOT NULL AND NOT j.cancel_requested AND j.status NOT LIKE 'collected:%') jobs
     GROUP BY provider`,
    [TERMINAL_BATCH_STATUSES, graceSeconds],
  );
  return rows;
}

/**
 * For queued and running batches (less those in `exclude`: paused or waiting for budget), by
 * mode (`realtime`, else `batch`), the longest time one has gone without a store write of its
 * own: a result, a provider batch submitted or collected. Each batch's latest write is an index
 * lookup (results_updated, the provider_jobs key).
 */
export async function longestIdle(db: Queryable, exclude: string[]): Promise<Array<{ mode: string; idle_s: number }>> {
  const { rows } = await db.query(
    `SELECT CASE WHEN b.mode = 'realtime' THEN 'realtime' ELSE 'batch' END AS mode,
            max(extract(epoch FROM now() - GREATEST(b.created_at, b.started_at,
              (SELECT max(r.updated_at) FROM results r WHERE r.batch_id = b.id),
              (SELECT max(j.updated_at) FROM provider_jobs j WHERE j.batch_id = b.id))))::float AS idle_s
     FROM batches b WHERE b.status IN ('queued', 'running') AND b.id <> ALL($1::text[]) GROUP BY 1`,
    [exclude],
  );
  return rows;
}
