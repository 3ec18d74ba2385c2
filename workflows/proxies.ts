import { patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { quickOptions, realtimeOptions, transferOptions } from './activity-options.js';
import { REALTIME_QUEUE_PATCH, realtimeTaskQueue } from './task-queues.js';

type Activities = ReturnType<typeof createActivities>;

/** Activities that move provider input or output: long, heartbeating, cancelled with a wait. */
export const transfer = proxyActivities<Activities>(transferOptions);
/** One small provider or store call. */
export const quick = proxyActivities<Activities>(quickOptions);
/** A realtime chunk attempt: as long as its rate limit needs. */
export const realtime = proxyActivities<Activities>(realtimeOptions);

/**
 * Where a realtime attempt runs: on the realtime queue (its own worker slots) once the patch is
 * in the history, on the workflow's own queue for attempts scheduled before it.
 */
export function realtimeProxy(): typeof realtime {
  if (!patched(REALTIME_QUEUE_PATCH)) return realtime;
  return proxyActivities<Activities>({ ...realtimeOptions, taskQueue: realtimeTaskQueue(workflowInfo().taskQueue) });
}
