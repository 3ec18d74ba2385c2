import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { visibilityQuery } from '../api/visibility-query.js';
import type { Db } from '../store/db.js';
import { batchesByStatus, longestIdle, providerJobsInFlight } from '../store/metrics.js';

/** Statuses of a running batch that only its workflow knows (its DroverStatus search attribute), not the store. */
const LIVE_STATUSES = ['paused', 'awaiting_budget', 'cancelling'] as const;
/** A recorded provider batch whose attempt ended this long ago and that nobody cancelled counts as unclaimed. */
const UNCLAIMED_GRACE_S = 15 * 60;
/** Batches read per live status; past this the split is approximate (and so many paused batches say enough). */
const LIVE_LIST_LIMIT = 10_000;

export interface BatchGaugeSources {
  db: Db;
  logger: Logger;
  /** For the live statuses of running batches; without it they count as `running`. */
  temporal?: { client: Client; taskQueue: string };
}

interface Snapshot {
  batches: Record<string, number> | null;
  jobs: Awaited<ReturnType<typeof providerJobsInFlight>> | null;
  idle: Awaited<ReturnType<typeof longestIdle>> | null;
}

/**
 * Gauges read when Prometheus scrapes, never kept in memory: batches by status, provider batches
 * in flight and unclaimed, and the longest a live batch has gone without progress. The API
 * registers them (every API process exports the same figures: aggregate them with max, not
 * sum). A source that fails leaves its gauges empty for that scrape; the scrape still answers.
 */
export function registerBatchGauges(registry: Registry, sources: BatchGaugeSources): void {
  // One snapshot serves every gauge of a scrape: prom-client starts their collects together.
  let pending: Promise<Snapshot> | null = null;
  const snapshot = () =>
    (pending ??= takeSnapshot(sources).finally(() => {
      pending = null;
    }));

  new Gauge({
    name: 'drover_batches',
    help: 'Batches by status: queued, running, paused, awaiting_budget, cancelling (from the workflows), and how they ended.',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const { batches } = await snapshot();
      this.reset();
      for (const [status, n] of Object.entries(batches ?? {})) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'drover_provider_batches_in_flight',
    help: 'Provider batches Drover created that a live chunk attempt will collect.',
    labelNames: ['provider'] as const,
    registers: [registry],
    async collect() {
      const { jobs } = await snapshot();
      this.reset();
      for (const r of jobs ?? []) this.set({ provider: r.provider }, r.in_flight);
    },
  });
  new Gauge({
    name: 'drover_provider_batches_unclaimed',
    help: 'Provider batches recorded for a chunk attempt that ended over 15 minutes ago, never collected nor cancelled: orphans that may still bill.',
    labelNames: ['provider'] as const,
    registers: [registry],
    async collect() {
      const { jobs } = await snapshot();
      this.reset();
      for (const r of jobs ?? []) this.set({ provider: r.provider }, r.unclaimed);
    },
  });
  new Gauge({
    name: 'drover_batch_max_idle_seconds',
    help: 'The longest a queued or running batch (not paused, not waiting for budget) has gone without progress: no result written, no provider batch submitted or collected. By mode: realtime, or batch (auto included).',
    labelNames: ['mode'] as const,
    registers: [registry],
    async collect() {
      const { idle } = await snapshot();
      this.reset();
      for (const r of idle ?? []) this.set({ mode: r.mode }, r.idle_s);
    },
  });
}

async function takeSnapshot(sources: BatchGaugeSources): Promise<Snapshot> {
  const failed = (what: string) => (err: unknown) => {
    sources.logger.warn({ err }, `metrics: could not read ${what}`);
    return null;
  };
  const [stored, live, jobs] = await Promise.all([
    batchesByStatus(sources.db).catch(failed('batches by status')),
    liveBatches(sources).catch(failed('paused and waiting batches from Temporal')),
    providerJobsInFlight(sources.db, UNCLAIMED_GRACE_S).catch(failed('provider batches')),
  ]);
  // Paused and waiting batches are idle on purpose: only the others can be stalled.
  const resting = [...(live?.paused ?? []), ...(live?.awaiting_budget ?? [])];
  const idle = await longestIdle(sources.db, resting).catch(failed('batch progress'));
  if (!stored) return { batches: null, jobs, idle };
  const batches: Record<string, number> = {};
  for (const { status, n } of stored) batches[status] = n;
  // The store says `running` for a batch that is paused, waiting for budget or cancelling; its
  // workflow says which. Visibility lags a moment behind, so the split is clamped to the store's count.
  let left = batches.running ?? 0;
  for (const status of LIVE_STATUSES) {
    const taken = Math.min(live?.[status]?.length ?? 0, left);
    if (live) batches[status] = taken;
    left -= taken;
  }
  if (batches.running !== undefined || live) batches.running = left;
  return { batches, jobs, idle };
}

/** Ids of the running batch workflows in each live status, from Temporal visibility. */
async function liveBatches(sources: BatchGaugeSources): Promise<Record<(typeof LIVE_STATUSES)[number], string[]> | null> {
  const { temporal } = sources;
  if (!temporal) return null;
  const lists = await Promise.all(
    LIVE_STATUSES.map(async (status) => {
      const query = visibilityQuery([
        { attribute: 'WorkflowType', op: '=', value: 'processBatchWorkflow' },
        { attribute: 'ExecutionStatus', op: '=', value: 'Running' },
        { attribute: 'TaskQueue', op: '=', value: temporal.taskQueue },
        { attribute: 'DroverStatus', op: '=', value: status },
      ]);
      const ids: string[] = [];
      for await (const wf of temporal.client.workflow.list({ query, pageSize: 1000 })) {
        ids.push(wf.workflowId);
        if (ids.length >= LIVE_LIST_LIMIT) break;
      }
      return [status, ids] as const;
    }),
  );
  return Object.fromEntries(lists) as Record<(typeof LIVE_STATUSES)[number], string[]>;
}
