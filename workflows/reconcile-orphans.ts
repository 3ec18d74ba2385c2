import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

// ---------------------------------------------------------------------------------------------
// Types

export interface ReconcileOrphansInput {
  /** Creates younger than this are left to finish recording. @default 15 minutes */
  graceMs?: number;
  /** How far back the providers' lists are read. @default 48 hours */
  lookbackMs?: number;
}

/** What one provider's pass found: running batches, lost creates recorded, what it cancelled and why, what it left. */
export interface OrphanReport {
  provider: string;
  running: number;
  settled: number;
  cancelled: Array<{ id: string; reason: string }>;
  left: { collected: number; creating: number; not_drovers: number };
  error?: string;
}

export interface ReconcileOrphansResult {
  cancelled: number;
  providers: OrphanReport[];
}

const { reconcileOrphans } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

// ---------------------------------------------------------------------------------------------
// Workflows

/**
 * Cancels provider batches Drover pays for and nobody will collect (see the `reconcileOrphans`
 * activity). Run by the Temporal Schedule `drover-orphan-reconciler` (workers/orphan-schedule.ts)
 * every 15 minutes by default, overlaps skipped; one activity, so its history stays a few events
 * and it never continues as new. Its result lists what was cancelled and why.
 */
export async function reconcileOrphansWorkflow(input: ReconcileOrphansInput = {}): Promise<ReconcileOrphansResult> {
  return reconcileOrphans(input);
}
