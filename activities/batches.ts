import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ChunkPlanner } from '../domain/chunk-plan.js';
import { chunkLimits, type ProviderName } from '../providers/limits.js';
import { findBatchById, finishBatch as storeFinish, markBatchRunning } from '../store/batches.js';
import { saveChunks } from '../store/chunks.js';
import type { Db } from '../store/db.js';
import { itemSizesPage } from '../store/items.js';
import type { BatchRow } from '../store/rows.js';
import type { FinishBatchInput } from '../workflows/contracts.js';

export async function loadBatch(db: Db, batchId: string): Promise<BatchRow> {
  const batch = await findBatchById(db, batchId);
  if (!batch) throw ApplicationFailure.nonRetryable(`batch ${batchId} is not in the store`, 'InvalidBatch');
  return batch;
}

export function createBatchActivities(db: Db) {
  return {
    /**
     * Splits the stored items into chunks by count and bytes and stores the plan. Deterministic,
     * so a retry writes the same rows. Returns only the count: ranges stay in the store.
     */
    async planBatch({ batchId }: { batchId: string }): Promise<{ chunkCount: number }> {
      const batch = await loadBatch(db, batchId);
      const planner = new ChunkPlanner(chunkLimits(batch.provider as ProviderName, batch.settings.chunk_size, batch.spec));
      let after = -1;
      for (;;) {
        const page = await itemSizesPage(db, batchId, after, 50_000);
        try {
          for (const row of page) planner.add(row.seq, row.request_bytes);
        } catch (err) {
          throw ApplicationFailure.nonRetryable((err as Error).message, 'InvalidBatch');
        }
        Context.current().heartbeat();
        if (page.length < 50_000) break;
        after = page[page.length - 1]!.seq;
      }
      const chunks = planner.finish();
      await saveChunks(db, batch.tenant_id, batchId, chunks);
      await markBatchRunning(db, batchId, chunks.length);
      return { chunkCount: chunks.length };
    },

    /** Records the final status and totals; idempotent (last write is the same write). */
    async finishBatch(input: FinishBatchInput): Promise<void> {
      await storeFinish(db, input.batchId, input);
    },
  };
}
