import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BatchProgress, ChunkCompletion, LimitsPatch } from './contracts.js';

/** A chunk tells its batch it is done; sent by workflow id so it reaches the batch's current run. */
export const chunkCompletedSignal = defineSignal<[ChunkCompletion]>('chunkCompleted');

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

/** Live status, counts, cost and ETA of a running batch. */
export const progressQuery = defineQuery<BatchProgress>('progress');
