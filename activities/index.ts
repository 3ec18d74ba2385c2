import type { Db } from '../store/db.js';
import { createBatchActivities } from './batches.js';
import { createChunkActivities, type Providers } from './chunks.js';

export interface ActivityDeps {
  db: Db;
  providers: Providers;
}

/** Every activity Drover registers, built from its dependencies (workers/main.ts makes them). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createBatchActivities(deps.db),
    ...createChunkActivities(deps.db, deps.providers),
  };
}
