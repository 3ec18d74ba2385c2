import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { BatchPlanner } from '../domain/batch-plan.js';
import { FailureType } from '../domain/failure-types.js';
import { nanosToUsd, sumNanos } from '../domain/money.js';
import type { ProviderName } from '../domain/provider-catalog.js';
import { findBatchById, finishBatch as storeFinish, markBatchRunning } from '../store/batches.js';
import { chunkEstimatePage, saveChunks } from '../store/chunks.js';
import type { Db } from '../store/db.js';
import { itemSizesPage, unansweredItemSizesPage } from '../store/items.js';
import type { BatchRow } from '../store/rows.js';
import type { ChunkEstimatePage, FinishBatchInput, FinishBatchResult, PlanResult, StopReason } from '../workflows/contracts.js';
import { closingStatus } from '../workflows/batch-ledger.js';
import { closeUnfinished, tallyRange } from '../store/results.js';
import { settleBatchHolds } from '../store/tenant-quotas.js';
import type { ItemError } from '../domain/responses.js';
import { NO_METRICS, type ActivityMetrics } from '../metrics/drover-metrics.js';

const NO_OUTCOME: ItemError = { code: 'not_processed', message: 'the batch ended before this item got an outcome' };

const STOP_ERRORS: Record<StopReason, ItemError> = {
  cancelled: { code: 'batch_cancelled', message: 'the batch was cancelled before this item finished' },
  timed_out: { code: 'deadline_exceeded', message: "the batch's deadline passed before this item finished" },
  budget_exhausted: { code: 'budget_exhausted', message: "the batch's cost limit was reached before this item finished" },
};

export async function loadBatch(db: Db, batchId: string): Promise<BatchRow> {
  const batch = await findBatchById(db, batchId);
  if (!batch) throw ApplicationFailure.nonRetryable(`batch ${batchId} is not in the store`, FailureType.InvalidBatch);
  return batch;
}

/** Items read at a time while planning. */
const PLAN_PAGE = 50_000;

export function createBatchActivities(db: Db, metrics: ActivityMetrics = NO_METRICS, emulated: readonly string[] = []) {
  return {
    /**
     * Splits the stored items into chunks by count and bytes and stores the plan. Deterministic,
     * so a retry writes the same rows. Returns only the count: ranges stay in the store.
     */
    async planBatch({ batchId }: { batchId: string }): Promise<PlanResult> {
      const batch = await loadBatch(db, batchId);
      const pricing = batch.pricing;
      if (!pricing) throw ApplicationFailure.nonRetryable(`batch ${batchId} has no pricing`, FailureType.InvalidBatch);
      const planner = new BatchPlanner({
        provider: batch.provider as ProviderName,
        spec: batch.spec,
        pricing,
        mode: batch.mode,
        chunkSize: batch.settings.chunk_size,
        maxAttempts: batch.settings.max_attempts,
      });
      // With the result cache, items it answered are not planned: the others are planned as if
      // they stood side by side (the planner splits at gaps), and the ranges then widened back to
      // cover every item, so the answered ones are counted with the chunk they fall in.
      const skipAnswered = batch.settings.cache === 'use';
      const sizesPage = skipAnswered ? unansweredItemSizesPage : itemSizesPage;
      const planned: number[] = [];
      // Items are numbered 0 to item_count - 1.
      for (let from = 0; from < batch.item_count; from += PLAN_PAGE) {
        const page = await sizesPage(db, batchId, from, from + PLAN_PAGE);
        try {
          for (const row of page) {
            if (skipAnswered) planned.push(row.seq);
            planner.add(skipAnswered ? { ...row, seq: planned.length - 1 } : row);
          }
        } catch (err) {
          throw ApplicationFailure.nonRetryable((err as Error).message, FailureType.InvalidBatch);
        }
        Context.current().heartbeat();
      }
      const priced = planner.finish();
      if (skipAnswered) {
        priced.forEach((c, i) => {
          c.seq_start = i === 0 ? 0 : priced[i - 1]!.seq_end;
          c.seq_end = i === priced.length - 1 ? batch.item_count : planned[c.seq_end]!;
        });
      }
      const chunks = priced.map((c) => ({
        ...c,
        est_cost_nanos: c.estimate.cost.expected_nanos,
        max_cost_nanos: c.estimate.cost.high_nanos,
      }));
      await saveChunks(db, batch.tenant_id, batchId, chunks);
      await markBatchRunning(db, batchId, chunks.length, emulated.includes(batch.provider));
      return { chunkCount: chunks.length, expectedUsd: nanosToUsd(sumNanos(chunks.map((c) => c.est_cost_nanos))) };
    },

    /** Per-chunk estimates of a page of the plan: the batch reserves each chunk's before it starts. */
    async chunkEstimates({ batchId, from, count }: { batchId: string; from: number; count: number }): Promise<ChunkEstimatePage> {
      return { from, ...(await chunkEstimatePage(db, batchId, from, count)) };
    },

    /**
     * Closes every item still without an outcome (with the stop reason, or as failed when the
     * batch ended without one, which only a chunk lost to the store can cause), then records
     * the status and the totals the store counts. Idempotent; returns what it recorded.
     */
    async finishBatch(input: FinishBatchInput): Promise<FinishBatchResult> {
      const batch = await loadBatch(db, input.batchId);
      if (input.stopReason) {
        metrics.resultsWritten(batch, await closeUnfinished(db, batch.tenant_id, input.batchId, STOP_ERRORS[input.stopReason]));
      } else {
        const closed = await closeUnfinished(
          db,
          batch.tenant_id,
          input.batchId,
          input.failed ? { code: 'batch_failed', message: input.error ?? 'the batch failed' } : NO_OUTCOME,
          {
            status: 'failed',
          },
        );
        metrics.resultsWritten(batch, closed);
      }
      const t = await tallyRange(db, input.batchId);
      const totals = { succeeded: t.succeeded, failed: t.failed, cancelled: t.cancelled, usage: t.usage, costUsd: t.cost_usd };
      const status = input.failed ? 'failed' : closingStatus(input.stopReason, totals);
      await storeFinish(db, input.batchId, { status, ...totals, cost_usd: totals.costUsd, ...(input.error ? { error: input.error } : {}) });
      // The tenant's monthly cap now counts what the batch really cost, and nothing it reserved.
      await settleBatchHolds(db, input.batchId, totals.costUsd);
      return { status, ...totals };
    },
  };
}
