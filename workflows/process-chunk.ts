import {
  CancellationScope,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { quickOptions, realtimeOptions, transferOptions } from './activity-options.js';
import type { ChunkRunState, PollPolicy, ProcessChunkInput, Tally } from './contracts.js';
import { chunkCompletedSignal } from './definitions.js';
import { addTally, ZERO_TALLY } from './tally.js';

type Activities = ReturnType<typeof createActivities>;
const transfer = proxyActivities<Activities>(transferOptions);
const quick = proxyActivities<Activities>(quickOptions);
const realtime = proxyActivities<Activities>(realtimeOptions);

/**
 * Runs one chunk through the provider's native batch API:
 * submit → poll on durable timers with backoff → collect, then resubmits only the items that
 * failed retryably, up to `maxAttempts`. Reports its tally to the batch by signal.
 *
 * Cancelled (by its batch, on cancel, deadline or budget): cancels the provider batch, waits
 * for it to end, collects the partial results and closes what did not finish as cancelled.
 *
 * Idempotency: every provider batch is keyed by (batch, chunk, attempt), so a retried submit
 * finds the batch it created; collect writes at most one row per item.
 * Continue-as-new: while polling, when Temporal suggests it (a day of polls), carrying
 * `state`, which includes the provider batch id so nothing is submitted twice.
 */
export async function processChunkWorkflow(input: ProcessChunkInput): Promise<Tally> {
  const { batchId, chunkIndex, maxAttempts, poll } = input;
  const s: ChunkRunState = input.state ?? { attempt: 1, providerBatchId: null, pollMs: poll.initialMs, totals: ZERO_TALLY };

  try {
    while (s.attempt <= maxAttempts) {
      const ref = { batchId, chunkIndex, attempt: s.attempt };
      if (!s.providerBatchId) {
        const submitted = await transfer.submitChunk.executeWithOptions({ summary: `submit chunk ${chunkIndex}, attempt ${s.attempt}` }, [ref]);
        if (submitted.path === 'realtime') {
          s.path = 'realtime';
          const tally = await realtime.runRealtimeChunk.executeWithOptions(
            { summary: `realtime: ${submitted.itemCount} items of chunk ${chunkIndex}, attempt ${s.attempt}` },
            [{ ...ref, final: s.attempt >= maxAttempts }],
          );
          s.totals = addTally(s.totals, tally);
          s.path = null;
          s.attempt++;
          if (tally.pending === 0) break;
          continue;
        }
        if (!submitted.providerBatchId) break;
        s.path = 'batch';
        s.providerBatchId = submitted.providerBatchId;
        s.pollMs = poll.initialMs;
      }
      const providerBatchId = s.providerBatchId;
      await waitUntilTerminal(batchId, providerBatchId, s, poll, () => {
        if (workflowInfo().continueAsNewSuggested) return continueAsNew<typeof processChunkWorkflow>({ ...input, state: s });
      });
      const tally = await transfer.collectChunk.executeWithOptions(
        { summary: `collect ${providerBatchId}, attempt ${s.attempt}` },
        [{ ...ref, providerBatchId, final: s.attempt >= maxAttempts }],
      );
      s.totals = addTally(s.totals, tally);
      s.providerBatchId = null;
      s.path = null;
      s.attempt++;
      if (tally.pending === 0) break;
      log.info('resubmitting failed items', { chunkIndex, pending: tally.pending, nextAttempt: s.attempt });
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(async () => {
      if (s.path === 'realtime') {
        // The realtime activity saved each finished item as it went: count what it wrote.
        s.totals = addTally(s.totals, await quick.tallyChunk({ batchId, chunkIndex, attempt: s.attempt }));
        return;
      }
      // The provider batch of the interrupted attempt may exist even if submit never returned
      // its id here: the activity looks it up by key.
      const { providerBatchId } = await quick.cancelChunk({ batchId, chunkIndex, attempt: s.attempt });
      if (!providerBatchId) return;
      s.pollMs = poll.initialMs;
      await waitUntilTerminal(batchId, providerBatchId, s, poll);
      const tally = await transfer.collectChunk.executeWithOptions(
        { summary: `collect partial results of cancelled ${providerBatchId}` },
        [{ batchId, chunkIndex, attempt: s.attempt, providerBatchId, final: true, stopping: true }],
      );
      s.totals = addTally(s.totals, tally);
    });
  }

  await CancellationScope.nonCancellable(async () => {
    try {
      await getExternalWorkflowHandle(input.parentWorkflowId).signal(chunkCompletedSignal, { chunkIndex, ...s.totals });
    } catch (err) {
      // The batch was terminated or reset; the chunk's outcome is in the store either way.
      log.warn('could not report to batch workflow', { error: String(err) });
    }
  });
  return s.totals;
}

/** Polls with backoff on durable timers until the provider batch is terminal. */
async function waitUntilTerminal(batchId: string, providerBatchId: string, s: ChunkRunState, poll: PollPolicy, beforeSleep?: () => unknown): Promise<void> {
  for (;;) {
    const status = await quick.pollProviderBatch.executeWithOptions(
      { summary: `poll provider batch ${providerBatchId}, attempt ${s.attempt}` },
      [{ batchId, providerBatchId }],
    );
    if (status.terminal) return;
    await beforeSleep?.();
    await sleep(s.pollMs, { summary: `wait for ${providerBatchId} (${status.state})` });
    s.pollMs = Math.min(Math.round(s.pollMs * poll.factor), poll.maxMs);
  }
}
