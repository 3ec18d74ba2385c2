import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { WebhookEvent } from '../activities/webhooks.js';
import type { createActivities } from '../activities/index.js';
import { quickOptions, transferOptions, webhookOptions } from './activity-options.js';
import type { BatchProgress, BatchRunState, BatchStatus, LimitsPatch, ProcessBatchInput, ProcessBatchResult, StopReason } from './contracts.js';
import { cancelUpdate, chunkCompletedSignal, pauseUpdate, progressQuery, resumeUpdate, setLimitsUpdate } from './definitions.js';
import { processChunkWorkflow } from './process-chunk.js';
import { DroverCostUsd, DroverStatus } from './search-attributes.js';
import { addTally, ZERO_TALLY } from './tally.js';

type Activities = ReturnType<typeof createActivities>;
const transfer = proxyActivities<Activities>(transferOptions);
const quick = proxyActivities<Activities>(quickOptions);
const webhooks = proxyActivities<Activities>(webhookOptions);

export const DEFAULT_CHUNKS_PER_RUN = 250;
/** Dollar amounts compare with a tolerance of a millionth of a cent. */
const EPSILON_USD = 1e-8;

/** Deterministic child ids: a chunk is found from its batch id alone, in the UI and by retries. */
export function chunkWorkflowId(batchId: string, chunkIndex: number): string {
  return `${batchId}/chunk-${chunkIndex}`;
}

const FINAL_STATUS: Record<StopReason, BatchStatus> = { cancelled: 'cancelled', timed_out: 'timed_out', budget_exhausted: 'budget_exhausted' };

/**
 * Runs one batch: plans its chunks (stored, not carried), then runs chunk workflows in a
 * sliding window of `maxParallelChunks`, aggregating the tallies they signal back.
 *
 * Budget: a chunk starts only if spent + reserved + its own reservation (its cost with maximal
 * outputs) fits under `maxCostUsd`; otherwise the batch waits in `awaiting_budget` for a raise
 * (or ends, with `onBudgetExhausted: 'stop'`). Deadline, cancel (signal or a Temporal cancel
 * from the UI) and a spend that still crosses the limit all stop the batch the same way: its
 * running chunks are cancelled, they collect partial results, and unfinished items are closed.
 *
 * Continue-as-new: after `chunksPerRun` chunk starts (or when Temporal suggests it) the run
 * continues as new with its whole state. Children are started with ABANDON so they outlive the
 * run that started them, and they signal the batch by workflow id, so the current run gets the
 * result. A batch of 1,000 chunks therefore never grows one history past a few thousand events.
 */
export async function processBatchWorkflow(input: ProcessBatchInput): Promise<ProcessBatchResult> {
  const { batchId, itemCount, maxParallelChunks, maxAttempts, poll } = input;
  const chunksPerRun = input.chunksPerRun ?? DEFAULT_CHUNKS_PER_RUN;
  if (maxParallelChunks < 1 || maxAttempts < 1 || chunksPerRun < 1) {
    throw ApplicationFailure.nonRetryable('maxParallelChunks, maxAttempts and chunksPerRun must be at least 1', 'InvalidBatch');
  }
  const state: BatchRunState = input.state ?? {
    chunkCount: -1,
    nextChunk: 0,
    inFlight: [],
    totals: ZERO_TALLY,
    estimates: { expectedUsd: [], reserveUsd: [] },
    limits: input.limits,
    paused: false,
    stopReason: null,
    startedAtMs: Date.now(),
  };
  const inFlight = new Set(state.inFlight);
  let status: BatchStatus = state.stopReason ? 'cancelling' : state.paused ? 'paused' : state.chunkCount < 0 ? 'queued' : 'running';
  // Each run states its status once, so the search attribute never lags what this run believes.
  upsertSearchAttributes([{ key: DroverStatus, value: status }]);
  let limitsVersion = 0;

  // Deliveries run beside the batch; every run waits for its own before it ends or continues.
  const deliveries: Array<Promise<unknown>> = [];
  const notify = (event: WebhookEvent) => {
    if (!input.webhook) return;
    deliveries.push(
      webhooks.deliverWebhook
        .executeWithOptions({ summary: `webhook ${event}` }, [{ batchId, event, eventId: `evt_${uuid4().replaceAll('-', '')}` }])
        .catch((err: unknown) => log.warn('webhook not delivered', { event, error: String(err) })),
    );
  };
  const setStatus = (next: BatchStatus) => {
    if (next === status) return;
    status = next;
    upsertSearchAttributes([{ key: DroverStatus, value: next }]);
    if (next === 'awaiting_budget') notify('batch.awaiting_budget');
  };
  const stop = (reason: StopReason) => {
    if (state.stopReason) return;
    state.stopReason = reason;
    setStatus('cancelling');
  };
  const spent = () => state.totals.costUsd;
  const reserved = () => [...inFlight].reduce((sum, i) => sum + (state.estimates.reserveUsd[i] ?? 0), 0);
  const progress = (): BatchProgress => {
    const total = Math.max(state.chunkCount, 0);
    const done = state.totals.succeeded + state.totals.failed + state.totals.cancelled;
    const remaining = state.estimates.expectedUsd.slice(state.nextChunk).reduce((a, b) => a + b, 0);
    const inFlightExpected = [...inFlight].reduce((sum, i) => sum + (state.estimates.expectedUsd[i] ?? 0), 0);
    const elapsed = Date.now() - state.startedAtMs;
    return {
      status,
      itemCount,
      ...state.totals,
      pending: itemCount - done,
      cost: { spentUsd: spent(), reservedUsd: reserved(), limitUsd: state.limits.maxCostUsd, estimatedTotalUsd: spent() + inFlightExpected + remaining },
      deadlineMs: state.limits.deadlineMs,
      paused: state.paused,
      chunks: { total, completed: state.nextChunk - inFlight.size, running: inFlight.size, waiting: Math.max(total - state.nextChunk, 0) },
      startedAtMs: state.startedAtMs,
      etaMs: done > 0 && done < itemCount && elapsed > 0 ? Date.now() + Math.round((elapsed / done) * (itemCount - done)) : null,
    };
  };

  setHandler(chunkCompletedSignal, (done) => {
    // A chunk reports once, but ignore anything not in flight so a replayed signal never double-counts.
    if (!inFlight.delete(done.chunkIndex)) return;
    state.totals = addTally(state.totals, done);
    upsertSearchAttributes([{ key: DroverCostUsd, value: state.totals.costUsd }]);
  });
  setHandler(cancelUpdate, () => {
    stop('cancelled');
    return progress();
  });
  setHandler(pauseUpdate, () => {
    state.paused = true;
    if (!state.stopReason && state.chunkCount >= 0) setStatus('paused');
    return progress();
  });
  setHandler(resumeUpdate, () => {
    state.paused = false;
    if (status === 'paused') setStatus('running');
    return progress();
  });
  setHandler(
    setLimitsUpdate,
    (patch: LimitsPatch) => {
      if (patch.maxCostUsd !== undefined) state.limits = { ...state.limits, maxCostUsd: patch.maxCostUsd };
      if (patch.deadlineMs !== undefined) state.limits = { ...state.limits, deadlineMs: patch.deadlineMs };
      limitsVersion++;
      return progress();
    },
    {
      validator: (patch: LimitsPatch) => {
        if (state.stopReason) throw new Error(`the batch is stopping (${state.stopReason}); its limits can no longer change`);
        if (patch.maxCostUsd !== undefined && patch.maxCostUsd !== null && patch.maxCostUsd + EPSILON_USD < spent()) {
          throw new Error(`max_cost_usd ${patch.maxCostUsd} is below the $${spent().toFixed(6)} already spent`);
        }
        if (patch.deadlineMs !== undefined && patch.deadlineMs !== null && patch.deadlineMs <= Date.now()) {
          throw new Error(`deadline ${new Date(patch.deadlineMs).toISOString()} is in the past`);
        }
      },
    },
  );
  setHandler(progressQuery, progress);

  if (state.chunkCount < 0) {
    try {
      const plan = await transfer.planBatch({ batchId });
      state.chunkCount = plan.chunkCount;
      state.estimates = { expectedUsd: plan.expectedUsd, reserveUsd: plan.reserveUsd };
    } catch (err) {
      const error = errorMessage(err);
      setStatus('failed');
      await quick.finishBatch({ batchId, status: 'failed', ...ZERO_TALLY, error });
      notify('batch.failed');
      await Promise.all(deliveries);
      return { status: 'failed', chunkCount: 0, ...ZERO_TALLY, error };
    }
    setStatus('running');
  }

  const deadlinePassed = () => state.limits.deadlineMs !== null && Date.now() >= state.limits.deadlineMs;
  /** Waits for `ready`, a limits change or a stop; wakes at the deadline too, to enforce it. */
  const waitFor = async (ready: () => boolean) => {
    const version = limitsVersion;
    const wake = () => ready() || limitsVersion !== version || state.stopReason !== null;
    if (state.limits.deadlineMs === null) return condition(wake);
    const ms = state.limits.deadlineMs - Date.now();
    if (ms > 0) await condition(wake, ms);
  };
  const fitsBudget = (chunkIndex: number) =>
    state.limits.maxCostUsd === null || spent() + reserved() + (state.estimates.reserveUsd[chunkIndex] ?? 0) <= state.limits.maxCostUsd + EPSILON_USD;
  const hasWork = () => state.nextChunk < state.chunkCount;
  const windowOpen = () => hasWork() && inFlight.size < maxParallelChunks;
  const allDone = () => !hasWork() && inFlight.size === 0;

  let startedThisRun = 0;
  try {
    while (!allDone() && !state.stopReason) {
      if (deadlinePassed()) {
        stop('timed_out');
        break;
      }
      if (state.limits.maxCostUsd !== null && spent() > state.limits.maxCostUsd + EPSILON_USD) {
        log.warn('spend crossed the cost limit; stopping', { spent: spent(), limit: state.limits.maxCostUsd });
        stop('budget_exhausted');
        break;
      }
      if (!windowOpen()) {
        const running = inFlight.size;
        await waitFor(() => inFlight.size !== running || allDone());
        continue;
      }
      if (state.paused) {
        setStatus('paused');
        await waitFor(() => !state.paused);
        continue;
      }
      if (!fitsBudget(state.nextChunk)) {
        if (inFlight.size === 0 && state.limits.onBudgetExhausted === 'stop') {
          stop('budget_exhausted');
          break;
        }
        setStatus('awaiting_budget');
        const running = inFlight.size;
        await waitFor(() => inFlight.size !== running);
        continue;
      }
      if (startedThisRun >= chunksPerRun || workflowInfo().continueAsNewSuggested) {
        await Promise.all(deliveries);
        await condition(allHandlersFinished);
        await continueAsNew<typeof processBatchWorkflow>({ ...input, state: { ...state, inFlight: [...inFlight] } });
      }
      setStatus('running');
      const chunkIndex = state.nextChunk++;
      inFlight.add(chunkIndex);
      startedThisRun++;
      await startChild(processChunkWorkflow, {
        workflowId: chunkWorkflowId(batchId, chunkIndex),
        args: [{ batchId, chunkIndex, parentWorkflowId: workflowInfo().workflowId, maxAttempts, poll }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `chunk ${chunkIndex + 1} of ${state.chunkCount}`,
      });
    }
  } catch (err) {
    // A Temporal cancel (the UI's Cancel button) is a graceful cancel like the API's.
    if (!isCancellation(err)) throw err;
    stop('cancelled');
  }

  const stopReason = state.stopReason;
  if (stopReason) {
    await CancellationScope.nonCancellable(async () => {
      // Children outlive runs (ABANDON), so they are cancelled by id, not through a scope.
      for (const chunkIndex of inFlight) {
        await getExternalWorkflowHandle(chunkWorkflowId(batchId, chunkIndex))
          .cancel()
          .catch((err: unknown) => log.warn('could not cancel chunk', { chunkIndex, error: String(err) }));
      }
      await condition(() => inFlight.size === 0);
    });
  }

  const totals = state.totals;
  const finalStatus: BatchStatus = stopReason
    ? FINAL_STATUS[stopReason]
    : totals.failed === 0
      ? 'completed'
      : totals.succeeded === 0
        ? 'failed'
        : 'completed_with_failures';
  const result = { ...totals, cancelled: itemCount - totals.succeeded - totals.failed };
  // A query answered after this point (a reader that saw the store before finishBatch) must
  // report the same closing counts the store will hold.
  state.totals = result;
  await CancellationScope.nonCancellable(() => quick.finishBatch({ batchId, status: finalStatus, ...result, ...(stopReason ? { stopReason } : {}) }));
  setStatus(finalStatus);
  notify(`batch.${finalStatus === 'completed_with_failures' ? 'completed' : finalStatus}` as WebhookEvent);
  await CancellationScope.nonCancellable(() => Promise.all(deliveries));
  log.info('batch finished', { batchId, status: finalStatus, succeeded: totals.succeeded, failed: totals.failed, costUsd: totals.costUsd });
  return { status: finalStatus, chunkCount: state.chunkCount, ...result };
}

function errorMessage(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
}
