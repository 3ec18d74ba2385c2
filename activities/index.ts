import type { Db } from '../store/db.js';
import { createBatchActivities } from './batches.js';
import { createBudgetActivities } from './budget.js';
import type { Providers } from '../providers/types.js';
import { createChunkActivities } from './chunks.js';
import { createOrphanActivities } from './orphans.js';
import type { RateLimits } from './rate-limiter.js';
import { createRealtimeActivities } from './realtime.js';
import { createWebhookActivities, type WebhookDeps } from './webhooks.js';

export interface ActivityDeps {
  db: Db;
  providers: Providers;
  rateLimits?: RateLimits;
  realtimeConcurrency?: number;
  /** DROVER_WEBHOOK_ALLOW_PRIVATE, and a resolver for tests (webhooks.ts). */
  webhooks?: WebhookDeps;
}

/** Every activity Drover registers, built from its dependencies (workers/worker.ts makes them). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createBatchActivities(deps.db),
    ...createChunkActivities(deps.db, deps.providers),
    ...createBudgetActivities(deps.db, deps.providers),
    ...createOrphanActivities(deps.db, deps.providers),
    ...createWebhookActivities(deps.db, deps.webhooks),
    ...createRealtimeActivities({
      db: deps.db,
      providers: deps.providers.realtime,
      rateLimits: deps.rateLimits ?? {},
      concurrency: deps.realtimeConcurrency ?? 16,
    }),
  };
}
