import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BatchProgress, ChunkAttemptReport, ChunkCompletion, LimitsPatch, RejectInput } from './contracts.js';

/** A chunk tells its batch it is done; sent by workflow id so it reaches the batch's current run. */
export const chunkCompletedSignal = defineSignal<[ChunkCompletion]>('chunkCompleted');

/**
 * A chunk finished an attempt and has items left: it reports what the attempt spent and asks the
 * batch to reserve its next attempt. It starts that attempt only once `attemptGranted` arrives.
 */
export const chunkAttemptSignal = defineSignal<[ChunkAttemptReport]>('chunkAttempt');

/** The batch reserved the budget of a chunk's next attempt (sent to the chunk by workflow id). */
export const attemptGrantedSignal = defineSignal<[{ attempt: number }]>('attemptGranted');

/**
 * Stop gracefully: running provider batches are cancelled, finished results kept. Updates, not
 * signals, so the caller gets the state after the change (a query after a signal may not see it).
 */
export const cancelUpdate = defineUpdate<BatchProgress>('cancel');

/** No new chunk starts while paused; running ones finish. */
export const pauseUpdate = defineUpdate<BatchProgress>('pause');
export const resumeUpdate = defineUpdate<BatchProgress>('resume');

/**
 * Changes the cost limit or the deadline; answers with the new progress. Its validator rejects a
 * limit below what is already spent and a deadline in the past, before anything changes.
 */
export const setLimitsUpdate = defineUpdate<BatchProgress, [LimitsPatch]>('setLimits');

/**
 * Sample first: approve runs the rest of the batch, reject ends it. Their validators refuse
 * (before anything changes) unless the batch is awaiting approval.
 */
export const approveUpdate = defineUpdate<BatchProgress>('approve');
export const rejectUpdate = defineUpdate<BatchProgress, [RejectInput]>('reject');

/** Live status, counts, cost and ETA of a running batch. */
export const progressQuery = defineQuery<BatchProgress>('progress');
