import { ApplicationFailure } from '@temporalio/common';
import { estimateCost, outputCap, tokenCounterFor } from '../domain/estimate.js';
import { FailureType } from '../domain/failure-types.js';
import { nanosToUsd } from '../domain/money.js';
import type { Providers } from '../providers/types.js';
import { getChunk } from '../store/chunks.js';
import type { Db } from '../store/db.js';
import { unfinishedItems, type UnfinishedItem } from '../store/items.js';
import type { BatchRow } from '../store/rows.js';
import { tallyAttempt } from '../store/results.js';
import { holdTenantBudget, settleAttemptHold, type HoldResult } from '../store/tenant-quotas.js';
import type { AttemptReservation, ChunkRef, TenantHoldInput } from '../workflows/contracts.js';
import { attemptPath } from './attempt-path.js';
import { loadBatch } from './batches.js';
import { toChatRequest, withRepair } from './chunks.js';

/**
 * The most that sending `items` once can cost: their prompts (with the repair turn each will carry,
 * counted as the estimator counts prompts, 10% high) and each one's output cap, at `path`'s price.
 */
export function worstCaseUsd(batch: BatchRow, items: UnfinishedItem[], path: 'batch' | 'realtime'): number {
  if (!batch.pricing) throw ApplicationFailure.nonRetryable(`batch ${batch.id} has no pricing`, FailureType.InvalidBatch);
  const counter = tokenCounterFor(batch.provider);
  let inputTokens = 0;
  for (const item of items) {
    // An item without a repair turn sends the prompt intake already counted.
    inputTokens += item.error?.raw_output
      ? counter.count(withRepair(toChatRequest(batch.spec, item.input), item.error).messages)
      : item.est_input_tokens;
  }
  const cap = outputCap(batch.spec);
  const { cost } = estimateCost(inputTokens, items.length, { typical: cap, max: cap }, batch.pricing, path === 'batch');
  return nanosToUsd(cost.high_nanos);
}

export function createBudgetActivities(db: Db, providers: Providers) {
  return {
    /**
     * What the next attempt of a chunk can cost at most (worstCaseUsd of its unfinished items, at
     * the path it will take). The batch reserves this before the attempt may start, so spend never
     * passes the limit however many repairs it takes.
     */
    async attemptReservation(ref: ChunkRef): Promise<AttemptReservation> {
      const batch = await loadBatch(db, ref.batchId);
      if (!batch.pricing) throw ApplicationFailure.nonRetryable(`batch ${ref.batchId} has no pricing`, FailureType.InvalidBatch);
      const chunk = await getChunk(db, ref.batchId, ref.chunkIndex);
      const items = await unfinishedItems(db, ref.batchId, chunk.seq_start, chunk.seq_end);
      // The attempt before this one has ended: the tenant's monthly cap counts what it cost.
      if (ref.attempt > 1) {
        const previous = await tallyAttempt(db, ref.batchId, chunk, ref.attempt - 1);
        await settleAttemptHold(db, ref.batchId, ref.chunkIndex, ref.attempt - 1, previous.cost_usd);
      }
      const path = attemptPath(batch, providers, items.length, ref.attempt);
      return { items: items.length, path, reserveUsd: worstCaseUsd(batch, items, path) };
    },

    /**
     * Reserves a chunk attempt's worst case against the tenant's monthly spend cap, beside the
     * tenant's other batches; not granted when it does not fit. Retry-safe: an attempt holds once.
     */
    async holdTenantBudget(input: TenantHoldInput): Promise<HoldResult> {
      const batch = await loadBatch(db, input.batchId);
      return holdTenantBudget(db, { tenantId: batch.tenant_id, ...input });
    },
  };
}
