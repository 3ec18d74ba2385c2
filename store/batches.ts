import { usdParam } from '../domain/money.js';
import type { Usage } from '../domain/usage.js';
import type { Queryable } from './db.js';
import type { BatchStatus } from '../domain/responses.js';
import { BatchRow, type StoredSettings } from './rows.js';
import { sealSecret } from './secret-box.js';
import type { PromptSpec } from '../domain/batch-spec.js';
import type { Pricing } from '../domain/pricing.js';

export interface NewBatch {
  id: string;
  tenant_id: string;
  idempotency_key: string | null;
  provider: string;
  model: string;
  spec: PromptSpec;
  settings: StoredSettings;
  metadata: Record<string, unknown> | null;
  item_count: number;
  pricing: Pricing;
  max_cost_usd: number | null;
  deadline: Date | null;
  on_budget_exhausted: 'wait' | 'stop';
  estimated_cost_usd: number | null;
  mode: 'batch' | 'realtime' | 'auto';
  webhook_url: string | null;
  /** In the clear here; stored sealed (secret-box.ts). */
  webhook_secret: string | null;
  /** What the batch was made from, to tell a replay from another request under the same key; set later for streamed bodies. */
  request_hash?: string | null;
  /** The ended batch whose items this one runs again (POST /v1/batches/:id/rerun). */
  rerun_of?: string | null;
}

/**
 * Inserts the batch unless its idempotency key is taken; `null` means it was. The row returned
 * carries the webhook secret in the clear: the answer to this submit is the one place it is shown.
 */
export async function insertBatch(db: Queryable, b: NewBatch): Promise<BatchRow | null> {
  const { rows } = await db.query(
    `INSERT INTO batches (id, tenant_id, idempotency_key, status, provider, model, spec, settings, metadata, item_count,
       pricing, max_cost_usd, deadline, on_budget_exhausted, estimated_cost_usd, mode, webhook_url, webhook_secret, request_hash, rerun_of)
     VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
     ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING *`,
    [
      b.id,
      b.tenant_id,
      b.idempotency_key,
      b.provider,
      b.model,
      b.spec,
      b.settings,
      b.metadata,
      b.item_count,
      b.pricing,
      b.max_cost_usd === null ? null : usdParam(b.max_cost_usd),
      b.deadline,
      b.on_budget_exhausted,
      b.estimated_cost_usd === null ? null : usdParam(b.estimated_cost_usd),
      b.mode,
      b.webhook_url,
      b.webhook_secret === null ? null : sealSecret(b.webhook_secret),
      b.request_hash ?? null,
      b.rerun_of ?? null,
    ],
  );
  return rows[0] ? { ...BatchRow.parse(rows[0]), webhook_secret: b.webhook_secret } : null;
}

export async function setItemCount(
  db: Queryable,
  id: string,
  itemCount: number,
  estimatedCostUsd: number | null,
  requestHash: string | null = null,
): Promise<void> {
  await db.query('UPDATE batches SET item_count = $2, estimated_cost_usd = $3, request_hash = COALESCE($4, request_hash) WHERE id = $1', [
    id,
    itemCount,
    estimatedCostUsd === null ? null : usdParam(estimatedCostUsd),
    requestHash,
  ]);
}

/** Records limits a running batch accepted (its workflow holds them; this keeps the row true). */
export async function setLimits(db: Queryable, id: string, limits: { max_cost_usd: number | null; deadline: Date | null }): Promise<void> {
  await db.query('UPDATE batches SET max_cost_usd = $2, deadline = $3 WHERE id = $1', [
    id,
    limits.max_cost_usd === null ? null : usdParam(limits.max_cost_usd),
    limits.deadline,
  ]);
}

export async function batchesByIds(db: Queryable, tenantId: string, ids: string[]): Promise<BatchRow[]> {
  const { rows } = await db.query('SELECT * FROM batches WHERE tenant_id = $1 AND id = ANY($2::text[])', [tenantId, ids]);
  return rows.map((r) => BatchRow.parse(r));
}

export async function findBatch(db: Queryable, tenantId: string, id: string): Promise<BatchRow | null> {
  const { rows } = await db.query('SELECT * FROM batches WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return rows[0] ? BatchRow.parse(rows[0]) : null;
}

export async function findBatchById(db: Queryable, id: string): Promise<BatchRow | null> {
  const { rows } = await db.query('SELECT * FROM batches WHERE id = $1', [id]);
  return rows[0] ? BatchRow.parse(rows[0]) : null;
}

export async function findBatchByIdempotencyKey(db: Queryable, tenantId: string, key: string): Promise<BatchRow | null> {
  const { rows } = await db.query('SELECT * FROM batches WHERE tenant_id = $1 AND idempotency_key = $2', [tenantId, key]);
  return rows[0] ? BatchRow.parse(rows[0]) : null;
}

/** Planned: running with its chunks; `synthetic` when the emulator serves its provider. */
export async function markBatchRunning(db: Queryable, id: string, chunkCount: number, synthetic = false): Promise<void> {
  await db.query(
    `UPDATE batches SET status = 'running', chunk_count = $2, started_at = COALESCE(started_at, now()), synthetic = $3 WHERE id = $1`,
    [id, chunkCount, synthetic],
  );
}

export interface BatchOutcome {
  status: BatchStatus;
  succeeded: number;
  failed: number;
  usage: Usage;
  cost_usd: number;
  error?: string | null;
}

export async function finishBatch(db: Queryable, id: string, o: BatchOutcome): Promise<void> {
  await db.query(
    `UPDATE batches SET status = $2, succeeded = $3, failed = $4, usage = $5, error = $6, cost_usd = $7,
       completed_at = COALESCE(completed_at, now()) WHERE id = $1`,
    [id, o.status, o.succeeded, o.failed, o.usage, o.error ?? null, usdParam(o.cost_usd)],
  );
}

/** The batches made from this one by reruns, oldest first. */
export async function rerunsOf(db: Queryable, tenantId: string, id: string): Promise<string[]> {
  const { rows } = await db.query('SELECT id FROM batches WHERE tenant_id = $1 AND rerun_of = $2 ORDER BY created_at, id', [tenantId, id]);
  return rows.map((r: { id: string }) => r.id);
}
