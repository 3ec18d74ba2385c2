import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { addUsage, ZERO_USAGE } from '../domain/usage.js';
import { quickOptions, transferOptions } from './activity-options.js';
import type { BatchRunState, BatchStatus, ProcessBatchInput, ProcessBatchResult } from './contracts.js';
import { chunkCompletedSignal, progressQuery } from './definitions.js';
import { processChunkWorkflow } from './process-chunk.js';
import { DroverStatus } from './search-attributes.js';

type Activities = ReturnType<typeof createActivities>;
const transfer = proxyActivities<Activities>(transferOptions);
const quick = proxyActivities<Activities>(quickOptions);

export const DEFAULT_CHUNKS_PER_RUN = 250;

/** Deterministic child ids: a chunk is found from its batch id alone, in the UI and by retries. */
export function chunkWorkflowId(batchId: string, chunkIndex: number): string {
  return `${batchId}/chunk-${chunkIndex}`;
}

/**
 * Runs one batch: plans its chunks (stored, not carried), then runs chunk workflows in a
 * sliding window of `maxParallelChunks`, aggregating the tallies they signal back.
 *
 * Continue-as-new: after `chunksPerRun` chunk starts (or when Temporal suggests it) the run
 * continues as new with its window state. Children are started with ABANDON so they outlive
 * the run that started them, and they signal the batch by workflow id, so the current run gets
 * the result. A batch of 1,000 chunks therefore never grows one history past a few thousand
 * events.
 */
export async function processBatchWorkflow(input: ProcessBatchInput): Promise<ProcessBatchResult> {
  const { batchId, itemCount, maxParallelChunks, maxAttempts, poll } = input;
  const chunksPerRun = input.chunksPerRun ?? DEFAULT_CHUNKS_PER_RUN;
  if (maxParallelChunks < 1 || maxAttempts < 1 || chunksPerRun < 1) {
    throw ApplicationFailure.nonRetryable('maxParallelChunks, maxAttempts and chunksPerRun must be at least 1', 'InvalidBatch');
  }
  const state: BatchRunState = input.state ?? { chunkCount: -1, nextChunk: 0, inFlight: [], totals: { succeeded: 0, failed: 0, usage: ZERO_USAGE } };
  const inFlight = new Set(state.inFlight);
  let status: BatchStatus = 'running';

  setHandler(chunkCompletedSignal, (done) => {
    // A chunk reports once, but ignore anything not in flight so a replayed signal never double-counts.
    if (!inFlight.delete(done.chunkIndex)) return;
    state.totals = {
      succeeded: state.totals.succeeded + done.succeeded,
      failed: state.totals.failed + done.failed,
      usage: addUsage(state.totals.usage, done.usage),
    };
  });
  setHandler(progressQuery, () => {
    const total = Math.max(state.chunkCount, 0);
    return {
      status,
      itemCount,
      ...state.totals,
      pending: itemCount - state.totals.succeeded - state.totals.failed,
      chunks: { total, completed: state.nextChunk - inFlight.size, running: inFlight.size, waiting: total - state.nextChunk },
    };
  });

  if (state.chunkCount < 0) {
    try {
      state.chunkCount = (await transfer.planBatch({ batchId })).chunkCount;
    } catch (err) {
      const error = errorMessage(err);
      status = 'failed';
      await finish(batchId, { status, succeeded: 0, failed: 0, usage: ZERO_USAGE, error });
      return { status, chunkCount: 0, succeeded: 0, failed: 0, usage: ZERO_USAGE, error };
    }
    upsertSearchAttributes([{ key: DroverStatus, value: status }]);
  }

  let startedThisRun = 0;
  const mayStart = () => state.nextChunk < state.chunkCount && inFlight.size < maxParallelChunks;
  const allDone = () => state.nextChunk >= state.chunkCount && inFlight.size === 0;
  while (!allDone()) {
    if (mayStart() && (startedThisRun >= chunksPerRun || workflowInfo().continueAsNewSuggested)) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof processBatchWorkflow>({ ...input, state: { ...state, inFlight: [...inFlight] } });
    }
    if (mayStart()) {
      const chunkIndex = state.nextChunk++;
      inFlight.add(chunkIndex);
      startedThisRun++;
      await startChild(processChunkWorkflow, {
        workflowId: chunkWorkflowId(batchId, chunkIndex),
        args: [{ batchId, chunkIndex, parentWorkflowId: workflowInfo().workflowId, maxAttempts, poll }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `chunk ${chunkIndex + 1} of ${state.chunkCount}`,
      });
      continue;
    }
    await condition(() => mayStart() || allDone());
  }

  const { succeeded, failed, usage } = state.totals;
  status = failed === 0 ? 'completed' : succeeded === 0 ? 'failed' : 'completed_with_failures';
  await finish(batchId, { status, succeeded, failed, usage });
  log.info('batch finished', { batchId, status, succeeded, failed });
  return { status, chunkCount: state.chunkCount, succeeded, failed, usage };
}

async function finish(batchId: string, outcome: Omit<Parameters<Activities['finishBatch']>[0], 'batchId'>): Promise<void> {
  await quick.finishBatch({ batchId, ...outcome });
  upsertSearchAttributes([{ key: DroverStatus, value: outcome.status }]);
}

function errorMessage(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
}
