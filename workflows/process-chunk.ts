import { continueAsNew, getExternalWorkflowHandle, log, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { addUsage, ZERO_USAGE } from '../domain/usage.js';
import { quickOptions, transferOptions } from './activity-options.js';
import type { ChunkRunState, ProcessChunkInput, Tally } from './contracts.js';
import { chunkCompletedSignal } from './definitions.js';

type Activities = ReturnType<typeof createActivities>;
const transfer = proxyActivities<Activities>(transferOptions);
const quick = proxyActivities<Activities>(quickOptions);

/**
 * Runs one chunk through the provider's native batch API:
 * submit → poll on durable timers with backoff → collect, then resubmits only the items that
 * failed retryably, up to `maxAttempts`. Reports its tally to the batch by signal.
 *
 * Idempotency: every provider batch is keyed by (batch, chunk, attempt), so a retried submit
 * finds the batch it created; collect writes at most one row per item.
 * Continue-as-new: while polling, when Temporal suggests it (a day of polls), carrying
 * `state`, which includes the provider batch id so nothing is submitted twice.
 */
export async function processChunkWorkflow(input: ProcessChunkInput): Promise<Tally> {
  const { batchId, chunkIndex, maxAttempts, poll } = input;
  const s: ChunkRunState = input.state ?? { attempt: 1, providerBatchId: null, pollMs: poll.initialMs, totals: { succeeded: 0, failed: 0, usage: ZERO_USAGE } };

  while (s.attempt <= maxAttempts) {
    const ref = { batchId, chunkIndex, attempt: s.attempt };
    if (!s.providerBatchId) {
      const submitted = await transfer.submitChunk.executeWithOptions({ summary: `submit chunk ${chunkIndex}, attempt ${s.attempt}` }, [ref]);
      if (!submitted.providerBatchId) break;
      s.providerBatchId = submitted.providerBatchId;
      s.pollMs = poll.initialMs;
    }
    const providerBatchId = s.providerBatchId;

    for (;;) {
      const status = await quick.pollProviderBatch.executeWithOptions(
        { summary: `poll provider batch ${providerBatchId}, attempt ${s.attempt}` },
        [{ batchId, providerBatchId }],
      );
      if (status.terminal) break;
      if (workflowInfo().continueAsNewSuggested) {
        await continueAsNew<typeof processChunkWorkflow>({ ...input, state: s });
      }
      await sleep(s.pollMs, { summary: `wait for ${providerBatchId} (${status.state})` });
      s.pollMs = Math.min(Math.round(s.pollMs * poll.factor), poll.maxMs);
    }

    const tally = await transfer.collectChunk.executeWithOptions(
      { summary: `collect ${providerBatchId}, attempt ${s.attempt}` },
      [{ ...ref, providerBatchId, final: s.attempt >= maxAttempts }],
    );
    s.totals = { succeeded: s.totals.succeeded + tally.succeeded, failed: s.totals.failed + tally.failed, usage: addUsage(s.totals.usage, tally.usage) };
    s.providerBatchId = null;
    s.attempt++;
    if (tally.pending === 0) break;
    log.info('resubmitting failed items', { chunkIndex, pending: tally.pending, nextAttempt: s.attempt });
  }

  try {
    await getExternalWorkflowHandle(input.parentWorkflowId).signal(chunkCompletedSignal, { chunkIndex, ...s.totals });
  } catch (err) {
    // The batch was terminated or reset; the chunk's outcome is in the store either way.
    log.warn('could not report to batch workflow', { error: String(err) });
  }
  return s.totals;
}
