import { z } from 'zod';
import type { ProviderOffer } from '../domain/provider-offers.js';
import type { Queryable } from './db.js';

/** A worker refreshes its rows this often while it runs. */
export const REGISTRATION_REFRESH_MS = 30_000;
/** A row not refreshed for this long belongs to a worker that is gone (six missed refreshes). */
export const REGISTRATION_STALE_MS = 180_000;
/** Rows of workers gone this long are deleted by the next worker that registers. */
const FORGET_AFTER = '1 day';

export const WorkerProviderRow = z.object({
  namespace: z.string(),
  task_queue: z.string(),
  worker_id: z.string(),
  provider: z.string(),
  batch: z.boolean(),
  realtime: z.boolean(),
  models: z.array(z.string()).nullable(),
  started_at: z.date(),
  last_seen_at: z.date(),
});
export type WorkerProviderRow = z.infer<typeof WorkerProviderRow>;

/** Which worker: its Temporal identity on the namespace and task queue it polls. */
export interface WorkerRef {
  namespace: string;
  taskQueue: string;
  workerId: string;
}

/**
 * Writes what a worker serves, one row per provider, and marks it seen now (the server's clock,
 * so workers on other machines agree with the API on what is stale). Called at start and on every
 * refresh; providers the worker no longer offers and long-gone workers' rows are deleted.
 */
export async function registerWorker(db: Queryable, w: WorkerRef, offers: ProviderOffer[]): Promise<void> {
  await db.query(
    `DELETE FROM worker_providers
     WHERE (namespace = $1 AND task_queue = $2 AND worker_id = $3 AND NOT provider = ANY($4::text[]))
        OR (last_seen_at < now() - $5::interval AND worker_id <> $3)`,
    [w.namespace, w.taskQueue, w.workerId, offers.map((o) => o.provider), FORGET_AFTER],
  );
  await db.query(
    `INSERT INTO worker_providers (namespace, task_queue, worker_id, provider, batch, realtime, models)
     SELECT $1, $2, $3, r.provider, r.batch, r.realtime, r.models
     FROM jsonb_to_recordset($4::jsonb) AS r(provider text, batch boolean, realtime boolean, models text[])
     ON CONFLICT (namespace, task_queue, worker_id, provider)
     DO UPDATE SET batch = EXCLUDED.batch, realtime = EXCLUDED.realtime, models = EXCLUDED.models, last_seen_at = now()`,
    [w.namespace, w.taskQueue, w.workerId, JSON.stringify(offers)],
  );
}

/** A worker that stops cleanly leaves at once instead of going stale. */
export async function deregisterWorker(db: Queryable, w: WorkerRef): Promise<void> {
  await db.query('DELETE FROM worker_providers WHERE namespace = $1 AND task_queue = $2 AND worker_id = $3', [
    w.namespace,
    w.taskQueue,
    w.workerId,
  ]);
}

/** The registrations of live workers on a task queue: seen within REGISTRATION_STALE_MS. */
export async function liveWorkerProviders(db: Queryable, queue: { namespace: string; taskQueue: string }): Promise<WorkerProviderRow[]> {
  const { rows } = await db.query(
    `SELECT * FROM worker_providers
     WHERE namespace = $1 AND task_queue = $2 AND last_seen_at > now() - make_interval(secs => $3::float8 / 1000)
     ORDER BY provider, worker_id`,
    [queue.namespace, queue.taskQueue, REGISTRATION_STALE_MS],
  );
  return rows.map((r) => WorkerProviderRow.parse(r));
}
