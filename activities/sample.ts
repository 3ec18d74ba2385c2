import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../domain/failure-types.js';
import { nanosToUsd, roundUsd } from '../domain/money.js';
import { costNanosOf } from '../domain/pricing.js';
import type { Providers } from '../providers/types.js';
import { itemsLeftPerChunk, pickSample, saveSample, tallySample, unfinishedSampleItems } from '../store/samples.js';
import type { SampleOutcome, SampleReservation, SampleRunInput } from '../workflows/contracts.js';
import { attemptPath } from './attempt-path.js';
import { loadBatch } from './batches.js';
import { worstCaseUsd } from './budget.js';
import { runItemsRealtime, type RealtimeDeps } from './realtime.js';

/** What the sample's items are written as: their first and only attempt, final (see runSample). */
const SAMPLE_ATTEMPT = 1;

export function createSampleActivities(deps: RealtimeDeps, providers: Providers) {
  return {
    /**
     * Picks the sample (as runSample does, so both see the same items) and says what sending its
     * unanswered items can cost at most, realtime: what the batch reserves before it runs them.
     */
    async sampleReservation({ batchId, size }: SampleRunInput): Promise<SampleReservation> {
      const batch = await loadBatch(deps.db, batchId);
      await pickSample(deps.db, batchId, size);
      const items = await unfinishedSampleItems(deps.db, batchId);
      return { items: items.length, reserveUsd: worstCaseUsd(batch, items, 'realtime') };
    },

    /**
     * Sample first: marks `size` items (a hash of batch id and position picks them), runs them
     * realtime, one final attempt each, and projects the batch's cost from their real usage. The
     * chunks skip them later, since they already have an outcome: no item is sent twice. A retry
     * resumes with the sampled items still unanswered. Only counts and dollars come back.
     */
    async runSample({ batchId, size }: SampleRunInput): Promise<SampleOutcome> {
      const { db } = deps;
      const batch = await loadBatch(db, batchId);
      const pricing = batch.pricing;
      if (!pricing) throw ApplicationFailure.nonRetryable(`batch ${batchId} has no pricing`, FailureType.InvalidBatch);
      await pickSample(db, batchId, size);
      const items = await unfinishedSampleItems(db, batchId);
      // Final: a sampled item that fails is counted in the success rate, and not tried again later.
      await runItemsRealtime(deps, batch, items, { batchId, chunkIndex: -1, attempt: SAMPLE_ATTEMPT, final: true });

      const t = await tallySample(db, batchId);
      const n = Math.max(t.size, 1);
      // The sample's usage scaled to `left` items, rounded to whole tokens.
      const scaled = (left: number) => ({
        input_tokens: Math.round((t.input_tokens * left) / n),
        cached_input_tokens: Math.round((t.cached_input_tokens * left) / n),
        output_tokens: Math.round((t.output_tokens * left) / n),
        reasoning_tokens: Math.round((t.reasoning_tokens * left) / n),
      });
      // The rest is priced at the path each chunk will take: batch-path items at the batch discount.
      let rest = 0;
      for (const left of await itemsLeftPerChunk(db, batchId)) {
        if (left === 0) continue;
        const path = attemptPath(batch, providers, left, 1);
        rest += nanosToUsd(costNanosOf(scaled(left), pricing, path === 'batch'));
      }
      const outcome: SampleOutcome = {
        size: t.size,
        succeeded: t.succeeded,
        failed: t.failed,
        costUsd: roundUsd(t.cost_usd),
        projectedTotalUsd: roundUsd(t.cost_usd + rest),
      };
      await saveSample(db, batchId, {
        size: outcome.size,
        succeeded: outcome.succeeded,
        failed: outcome.failed,
        cost_usd: outcome.costUsd,
        projected_total_usd: outcome.projectedTotalUsd,
      });
      return outcome;
    },
  };
}
