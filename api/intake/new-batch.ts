import { randomBytes, randomUUID } from 'node:crypto';
import type { BatchEstimate } from '../../domain/responses.js';
import type { NewBatch } from '../../store/batches.js';
import type { BatchRow } from '../../store/rows.js';
import type { BatchDraft } from './batch-draft.js';

/** Items are written in pages of this many rows. */
export const INSERT_PAGE = 2000;

export function newBatch(tenantId: string, draft: BatchDraft, itemCount: number, estimatedCostUsd: number | null): NewBatch {
  const { settings } = draft;
  return {
    id: `batch_${randomUUID().replaceAll('-', '')}`,
    tenant_id: tenantId,
    idempotency_key: settings.idempotency_key ?? null,
    provider: draft.provider,
    model: settings.model,
    spec: draft.spec,
    settings: {
      chunk_size: settings.chunk_size,
      max_parallel_chunks: settings.max_parallel_chunks,
      max_attempts: settings.max_attempts,
      cache: settings.cache ?? 'use',
    },
    metadata: settings.metadata ?? null,
    item_count: itemCount,
    pricing: draft.pricing,
    max_cost_usd: settings.max_cost_usd ?? null,
    deadline: draft.deadline,
    on_budget_exhausted: settings.on_budget_exhausted,
    estimated_cost_usd: estimatedCostUsd,
    mode: settings.mode,
    webhook_url: settings.webhook_url ?? null,
    // Shown once, in the answer to the submit; deliveries are signed with it.
    webhook_secret: settings.webhook_url ? `whsec_${randomBytes(24).toString('hex')}` : null,
  };
}

export type Stored =
  | { batch: BatchRow; created: true; firstChunkReserveUsd?: number }
  | { batch: null; created: false }
  | { estimate: BatchEstimate; created: false; batch: null };
