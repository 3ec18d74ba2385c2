import { z } from 'zod';
import { MAX_NANOS, MAX_USD, nanosToUsd, usdParam, usdToNanos, type Nanos } from '../domain/money.js';
import { TERMINAL_BATCH_STATUSES } from '../domain/responses.js';
import { inTransaction, type Db, type Queryable } from './db.js';

export const TenantQuotaRow = z.object({
  tenant_id: z.string(),
  requests_per_minute: z.number().int().nullable(),
  max_active_batches: z.number().int().nullable(),
  monthly_spend_usd: z.coerce.number().nullable(),
  updated_at: z.date(),
});
export type TenantQuotaRow = z.infer<typeof TenantQuotaRow>;

export type QuotaPatch = Partial<Pick<TenantQuotaRow, 'requests_per_minute' | 'max_active_batches' | 'monthly_spend_usd'>>;

export async function getTenantQuota(db: Queryable, tenantId: string): Promise<TenantQuotaRow | null> {
  const { rows } = await db.query('SELECT * FROM tenant_quotas WHERE tenant_id = $1', [tenantId]);
  return rows[0] ? TenantQuotaRow.parse(rows[0]) : null;
}

/** Sets the given quotas (null removes one); the others keep their value. */
export async function setTenantQuota(db: Queryable, tenantId: string, patch: QuotaPatch): Promise<TenantQuotaRow> {
  const has = (k: keyof QuotaPatch) => patch[k] !== undefined;
  const { rows } = await db.query(
    `INSERT INTO tenant_quotas (tenant_id, requests_per_minute, max_active_batches, monthly_spend_usd)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id) DO UPDATE SET
       requests_per_minute = CASE WHEN $5 THEN EXCLUDED.requests_per_minute ELSE tenant_quotas.requests_per_minute END,
       max_active_batches  = CASE WHEN $6 THEN EXCLUDED.max_active_batches ELSE tenant_quotas.max_active_batches END,
       monthly_spend_usd   = CASE WHEN $7 THEN EXCLUDED.monthly_spend_usd ELSE tenant_quotas.monthly_spend_usd END,
       updated_at = now()
     RETURNING *`,
    [
      tenantId,
      patch.requests_per_minute ?? null,
      patch.max_active_batches ?? null,
      patch.monthly_spend_usd === null || patch.monthly_spend_usd === undefined ? null : usdParam(patch.monthly_spend_usd),
      has('requests_per_minute'),
      has('max_active_batches'),
      has('monthly_spend_usd'),
    ],
  );
  return TenantQuotaRow.parse(rows[0]);
}

/**
 * Counts one request in the tenant's current minute (by the database clock, so every API process
 * agrees) and returns the count so far and the seconds left in the minute.
 */
export async function countRequest(db: Queryable, tenantId: string): Promise<{ requests: number; retryAfterS: number }> {
  const { rows } = await db.query(
    `INSERT INTO tenant_request_windows (tenant_id, window_start, requests)
     VALUES ($1, date_trunc('minute', now()), 1)
     ON CONFLICT (tenant_id, window_start) DO UPDATE SET requests = tenant_request_windows.requests + 1
     RETURNING requests, ceil(extract(epoch FROM (window_start + interval '1 minute' - now())))::int AS retry_after_s`,
    [tenantId],
  );
  // Old windows go now and then, by whichever request finds them.
  if (Math.random() < 0.01) await db.query(`DELETE FROM tenant_request_windows WHERE window_start < now() - interval '1 hour'`);
  return { requests: rows[0].requests, retryAfterS: Math.max(rows[0].retry_after_s, 1) };
}

export async function activeBatchCount(db: Queryable, tenantId: string): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n FROM batches
     WHERE tenant_id = $1 AND status <> ALL($2::text[])`,
    [tenantId, TERMINAL_BATCH_STATUSES],
  );
  return rows[0].n;
}

/** This month's (UTC) spend and open reservations of a tenant against its monthly cap, in nano-dollars (summed exactly in SQL). */
export async function monthUsage(db: Queryable, tenantId: string): Promise<{ spentNanos: Nanos; reservedNanos: Nanos }> {
  const { rows } = await db.query(
    `SELECT coalesce(sum(settled_usd), 0) AS spent, coalesce(sum(reserved_usd) FILTER (WHERE settled_usd IS NULL), 0) AS reserved
     FROM tenant_budget_holds WHERE tenant_id = $1 AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date`,
    [tenantId],
  );
  return { spentNanos: usdToNanos(rows[0].spent), reservedNanos: usdToNanos(rows[0].reserved) };
}

export interface HoldResult {
  granted: boolean;
  /** What the cap leaves free this month beside what is spent and reserved; null without a cap. */
  freeUsd: number | null;
  capUsd: number | null;
}

/**
 * Reserves a chunk attempt's worst case against its tenant's monthly cap, atomically beside the
 * tenant's other batches (the quota row is locked while it sums). Idempotent: a hold already
 * made for this attempt is granted again. No cap: always granted, nothing recorded.
 */
export async function holdTenantBudget(
  db: Db,
  h: { tenantId: string; batchId: string; chunkIndex: number; attempt: number; reserveUsd: number },
): Promise<HoldResult> {
  return inTransaction(db, async (tx) => {
    const { rows } = await tx.query('SELECT monthly_spend_usd FROM tenant_quotas WHERE tenant_id = $1 FOR UPDATE', [h.tenantId]);
    const cap = rows[0]?.monthly_spend_usd === null || rows[0] === undefined ? null : Number(rows[0].monthly_spend_usd);
    if (cap === null) return { granted: true, freeUsd: null, capUsd: null };
    // A cap beyond what money.ts keeps exact holds as that bound, which no month reaches.
    const capNanos = cap >= MAX_USD ? MAX_NANOS : usdToNanos(cap);
    const reserveNanos = usdToNanos(h.reserveUsd);
    const existing = await tx.query('SELECT 1 FROM tenant_budget_holds WHERE batch_id = $1 AND chunk_idx = $2 AND attempt = $3', [
      h.batchId,
      h.chunkIndex,
      h.attempt,
    ]);
    const usage = await monthUsage(tx, h.tenantId);
    const free = Math.max(capNanos - usage.spentNanos - usage.reservedNanos, 0);
    if (existing.rowCount) return { granted: true, freeUsd: nanosToUsd(free), capUsd: cap };
    if (reserveNanos > free) return { granted: false, freeUsd: nanosToUsd(free), capUsd: cap };
    await tx.query(
      `INSERT INTO tenant_budget_holds (batch_id, chunk_idx, attempt, tenant_id, month, reserved_usd)
       VALUES ($1, $2, $3, $4, date_trunc('month', now() AT TIME ZONE 'UTC')::date, $5)`,
      [h.batchId, h.chunkIndex, h.attempt, h.tenantId, usdParam(h.reserveUsd)],
    );
    return { granted: true, freeUsd: nanosToUsd(free - reserveNanos), capUsd: cap };
  });
}

/** One attempt of a chunk ended: its hold now counts what it cost. */
export async function settleAttemptHold(db: Queryable, batchId: string, chunkIndex: number, attempt: number, costUsd: number) {
  await db.query('UPDATE tenant_budget_holds SET settled_usd = $4 WHERE batch_id = $1 AND chunk_idx = $2 AND attempt = $3', [
    batchId,
    chunkIndex,
    attempt,
    usdParam(costUsd),
  ]);
}

/** A chunk ended: its holds count what it cost in all, on its last attempt's row. */
export async function settleChunkHolds(db: Queryable, batchId: string, chunkIndex: number, costUsd: number) {
  await db.query(
    `UPDATE tenant_budget_holds h SET settled_usd = CASE WHEN h.attempt = last.attempt THEN $3::numeric ELSE 0 END
     FROM (SELECT max(attempt) AS attempt FROM tenant_budget_holds WHERE batch_id = $1 AND chunk_idx = $2) last
     WHERE h.batch_id = $1 AND h.chunk_idx = $2`,
    [batchId, chunkIndex, usdParam(costUsd)],
  );
}

/** A batch ended: whatever its holds still reserve is released, and its spend is what the store counted. */
export async function settleBatchHolds(db: Queryable, batchId: string, costUsd: number) {
  await db.query(
    `UPDATE tenant_budget_holds h
        SET settled_usd = CASE WHEN (h.chunk_idx, h.attempt) = (last.chunk_idx, last.attempt) THEN $2::numeric ELSE 0 END
       FROM (SELECT chunk_idx, attempt FROM tenant_budget_holds WHERE batch_id = $1 ORDER BY chunk_idx DESC, attempt DESC LIMIT 1) last
      WHERE h.batch_id = $1`,
    [batchId, usdParam(costUsd)],
  );
}
