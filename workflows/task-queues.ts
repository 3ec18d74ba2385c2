/**
 * Realtime chunk attempts run for minutes to hours; on a queue of their own they hold their own
 * slots, so they cannot take every activity slot a worker has and starve the polls and transfers
 * of other chunks. Shared by the workflows (which schedule there) and the worker (which polls it).
 */
export const realtimeTaskQueue = (taskQueue: string): string => `${taskQueue}-realtime`;

/** The patch that moved realtime chunk attempts to `realtimeTaskQueue`. */
export const REALTIME_QUEUE_PATCH = 'realtime-queue';
