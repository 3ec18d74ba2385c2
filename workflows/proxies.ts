import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { quickOptions, realtimeOptions, transferOptions } from './activity-options.js';

type Activities = ReturnType<typeof createActivities>;

/** Activities that move provider input or output: long, heartbeating, cancelled with a wait. */
export const transfer = proxyActivities<Activities>(transferOptions);
/** One small provider or store call. */
export const quick = proxyActivities<Activities>(quickOptions);
/** A realtime chunk attempt: as long as its rate limit needs. */
export const realtime = proxyActivities<Activities>(realtimeOptions);
