import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { visibilityQuery } from '../api/visibility-query.js';
import type { Db } from '../store/db.js';
import { batchesByStatus, providerJobsInFlight } from '../store/metrics.js';

/** Statuses of a running batch that only its workflow knows (its DroverStatus search attribute), not the store. */
const LIVE_STATUSES = ['paused', 'awaiting_budget', 'cancelling'] as const;
/** A recorded provider batch whose attempt ended this long ago and that nobody cancelled counts as unclaimed. */
const UNCLAIMED_GRACE_S = 15 * 60;

export interface BatchGaugeSources {
  db: Db;
  logger: Logger;
  /** For the live statuses of running batches; without it they count as `running`. */
  temporal?: { client: Client; taskQueue: string };
}

/**
 * Gauges read when Prometheus scrapes, never kept in memory: batches by status, and provider
 * batches in flight and unclaimed. The API registers them (each API process exports the same
 * figures: aggregate them with max, not sum). A source that fails leaves its gauge empty for
 * that scrape, and the scrape still answers.
 */
export function registerBatchGauges(registry: Registry, sources: BatchGaugeSources): void {
  new Gauge({
    name: 'drover_batches',
    help: 'Batches by status: queued, running, paused, awaiting_budget, cancelling, and how they ended (the store, and Temporal visibility for the live statuses).',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const counts = await batchCounts(sources).catch((err: unknown) => {
        sources.logger.warn({ err }, 'metrics: could not count batches');
        return null;
      });
      this.reset();
      for (const [status, n] of Object.entries(counts ?? {})) this.set({ status }, n);
    },
  });

  // Both provider-batch gauges come from one query, shared by the two collects of one scrape.
  let last: { at: number; rows: Promise<Awaited<ReturnType<typeof providerJobsInFlight>> | null> } | null = null;
  const jobsOnce = () => {
    if (!last || performance.now() - last.at > 1000) {
      const rows = providerJobsInFlight(sources.db, UNCLAIMED_GRACE_S).catch((err: unknown) => {
        sources.logger.warn({ err }, 'metrics: could not count provider batches');
        return null;
      });
      last = { at: performance.now(), rows };
    }
    return last.rows;
  };
  new Gauge({
    name: 'drover_provider_batches_in_flight',
    help: 'Provider batches Drover created that a live chunk attempt will collect.',
    labelNames: ['provider'] as const,
    registers: [registry],
    async collect() {
      const rows = await jobsOnce();
      this.reset();
      for (const r of rows ?? []) this.set({ provider: r.provider }, r.in_flight);
    },
  });
  new Gauge({
    name: 'drover_provider_batches_unclaimed',
    help: 'Provider batches recorded for a chunk attempt that ended over 15 minutes ago, never collected nor cancelled: orphans still billing.',
    labelNames: ['provider'] as const,
    registers: [registry],
    async collect() {
      const rows = await jobsOnce();
      this.reset();
      for (const r of rows ?? []) this.set({ provider: r.provider }, r.unclaimed);
    },
  });
}

async function batchCounts(sources: BatchGaugeSources): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { status, n } of await batchesByStatus(sources.db)) counts[status] = n;
  const running = counts.running ?? 0;
  const { temporal } = sources;
  if (!temporal || running === 0) return counts;
  // The store says `running` for a batch that is paused, waiting for budget or cancelling; its
  // workflow says which. Visibility lags by a moment, so the split is clamped to the store's count.
  const live = await Promise.all(
    LIVE_STATUSES.map(async (status) => {
      const query = visibilityQuery([
        { attribute: 'WorkflowType', op: '=', value: 'processBatchWorkflow' },
        { attribute: 'ExecutionStatus', op: '=', value: 'Running' },
        { attribute: 'TaskQueue', op: '=', value: temporal.taskQueue },
        { attribute: 'DroverStatus', op: '=', value: status },
      ]);
      return [status, (await temporal.client.workflow.count(query)).count] as const;
    }),
  ).catch((err: unknown) => {
    sources.logger.warn({ err }, 'metrics: could not count paused and waiting batches in Temporal');
    return [];
  });
  let left = running;
  for (const [status, n] of live) {
    const taken = Math.min(n, left);
    counts[status] = taken;
    left -= taken;
  }
  counts.running = left;
  return counts;
}
