import type { Db } from '../store/db.js';
import { NO_METRICS, type ActivityMetrics } from '../metrics/drover-metrics.js';
import { createBatchActivities } from './batches.js';
import { createBudgetActivities } from './budget.js';
import type { Providers } from '../providers/types.js';
import { createChunkActivities } from './chunks.js';
import { createOrphanActivities } from './orphans.js';
import type { RateLimits } from './rate-limiter.js';
import { createRealtimeActivities } from './realtime.js';
import { createSampleActivities } from './sample.js';
import { createResultCacheActivities } from './result-cache.js';
import { createWebhookActivities, type WebhookDeps } from './webhooks.js';

export interface ActivityDeps {
  db: Db;
  providers: Providers;
  rateLimits?: RateLimits;
  realtimeConcurrency?: number;
  /** Submits and collects at once in this worker (DROVER_MAX_CONCURRENT_TRANSFERS). */
  maxTransfers?: number;
  /** DROVER_WEBHOOK_ALLOW_PRIVATE, and a resolver for tests (webhooks.ts). */
  webhooks?: WebhookDeps;
  /** Counts result writes and rate-limit waits (metrics/); nothing when absent. */
  metrics?: ActivityMetrics;
  /** How long answers stay in the tenant's result cache (DROVER_RESULT_CACHE_TTL_DAYS). */
  resultCacheTtlMs?: number;
}

/** Every activity Drover registers, built from its dependencies (workers/worker.ts makes them). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createBatchActivities(deps.db, deps.metrics ?? NO_METRICS, deps.providers.emulated),
    ...createChunkActivities(
      deps.db,
      deps.providers,
      deps.metrics ?? NO_METRICS,
      deps.resultCacheTtlMs,
      deps.maxTransfers ? { maxTransfers: deps.maxTransfers } : {},
    ),
    ...createResultCacheActivities(deps.db),
    ...createBudgetActivities(deps.db, deps.providers),
    ...createOrphanActivities(deps.db, deps.providers),
    ...createWebhookActivities(deps.db, deps.webhooks),
    ...createRealtimeActivities(realtimeDeps(deps)),
    ...createSampleActivities(realtimeDeps(deps), deps.providers),
  };
}

function realtimeDeps(deps: ActivityDeps) {
  return {
    db: deps.db,
    providers: deps.providers.realtime,
    rateLimits: deps.rateLimits ?? {},
    concurrency: deps.realtimeConcurrency ?? 16,
    metrics: deps.metrics ?? NO_METRICS,
    ...(deps.resultCacheTtlMs ? { resultCacheTtlMs: deps.resultCacheTtlMs } : {}),
  };
}
