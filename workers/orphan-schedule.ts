import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { Duration } from '@temporalio/common';

export const ORPHAN_SCHEDULE_ID = 'drover-orphan-reconciler';

/**
 * Creates the Temporal Schedule that runs `reconcileOrphansWorkflow` every `every`, or brings an
 * existing one to this interval and task queue: every worker calls it at start, so it is
 * idempotent. Overlaps are skipped; a pass missed while no worker ran is not caught up on.
 */
export async function ensureOrphanSchedule(client: Client, opts: { taskQueue: string; every: string }): Promise<'created' | 'updated'> {
  const spec: ScheduleSpec = { intervals: [{ every: opts.every as Duration }] };
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: 'reconcileOrphansWorkflow',
    workflowId: ORPHAN_SCHEDULE_ID,
    taskQueue: opts.taskQueue,
    args: [{}],
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' } as const;
  try {
    await client.schedule.create({ scheduleId: ORPHAN_SCHEDULE_ID, spec, action, policies });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(ORPHAN_SCHEDULE_ID).update((prev) => ({ ...prev, spec, action, policies }));
    return 'updated';
  }
}
