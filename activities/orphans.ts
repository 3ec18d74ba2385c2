import { log } from '@temporalio/activity';
import type { BatchProvider, ListedBatch, Providers } from '../providers/types.js';
import type { Db } from '../store/db.js';
import { batchExists, findJob, jobsByProviderBatch, parseJobKey } from '../store/provider-jobs.js';
import type { OrphanReport, ReconcileOrphansInput, ReconcileOrphansResult } from '../workflows/reconcile-orphans.js';
import { withHeartbeat } from './heartbeat.js';
import { serialised, settleLostCreates } from './lost-creates.js';
import { asProviderCall } from './provider-failure.js';

/** A create younger than this may still be on its way to being recorded: its batch is left alone. */
export const DEFAULT_ORPHAN_GRACE_MS = 15 * 60_000;
/** Provider batches end within 24 hours; two days of the list covers every one still running. */
export const DEFAULT_ORPHAN_LOOKBACK_MS = 48 * 3600_000;

export function createOrphanActivities(db: Db, providers: Providers) {
  return {
    /**
     * Cancels the provider batches Drover pays for and nobody will collect: a running batch that
     * no job recorded (a create whose try died, a losing try's batch that escaped its cancel), or
     * one recorded for a chunk attempt that has ended (the batch finished, the attempt was
     * cancelled or replaced). Only Drover's own batches are touched: OpenAI and Gemini batches by
     * the job key they carry, which must name a batch in this store; Anthropic batches only once
     * a job of this store has claimed them (a lost create is settled first, by its job tag).
     * Safe to run at any time and twice: it cancels only what is running and unclaimed.
     */
    async reconcileOrphans(input: ReconcileOrphansInput): Promise<ReconcileOrphansResult> {
      const graceMs = input.graceMs ?? DEFAULT_ORPHAN_GRACE_MS;
      const lookbackMs = input.lookbackMs ?? DEFAULT_ORPHAN_LOOKBACK_MS;
      return withHeartbeat(async () => {
        const reports: OrphanReport[] = [];
        for (const provider of Object.values(providers.batch)) {
          try {
            reports.push(await reconcileProvider(provider, graceMs, lookbackMs));
          } catch (err) {
            // One unreachable provider does not keep the others' orphans billing.
            log.warn('orphan reconciliation failed for a provider', { provider: provider.name, error: (err as Error).message });
            reports.push({ ...emptyReport(provider.name), error: (err as Error).message.slice(0, 500) });
          }
        }
        const cancelled = reports.reduce((n, r) => n + r.cancelled.length, 0);
        log.info('orphan reconciliation done', {
          cancelled,
          ...Object.fromEntries(
            reports.map((r) => [r.provider, { running: r.running, cancelled: r.cancelled.length, settled: r.settled, left: r.left }]),
          ),
        });
        return { cancelled, providers: reports };
      });
    },
  };

  async function reconcileProvider(provider: BatchProvider, graceMs: number, lookbackMs: number): Promise<OrphanReport> {
    const now = Date.now();
    const report = emptyReport(provider.name);
    // Lost creates first: each is recorded for its job (or marked lost), so below every running
    // batch of Drover's is either recorded or nobody's. Under Anthropic's lock no create is in
    // flight; elsewhere the grace period spares creates that may still be recording.
    const settled = await serialised(db, provider, () =>
      settleLostCreates(db, provider, provider.createScope ? {} : { olderThan: new Date(now - graceMs) }),
    );
    report.settled = settled.recorded.length;

    const running: ListedBatch[] = [];
    await asProviderCall(provider, async () => {
      for await (const b of provider.listBatches(new Date(now - lookbackMs))) if (!b.terminal && b.state !== 'cancelling') running.push(b);
    });
    report.running = running.length;
    const recorded = await jobsByProviderBatch(db, provider.name, [...new Set(running.map((b) => b.id))]);
    for (const b of running) {
      const job = recorded.get(b.id);
      if (job) {
        if (job.ended) await cancel(provider, b.id, `recorded for ${job.job_key}, whose attempt has ended`, report);
        else report.left.collected++;
        continue;
      }
      const key = b.jobKey ? parseJobKey(b.jobKey) : null;
      if (!b.jobKey || !key || !(await batchExists(db, key.batchId))) {
        report.left.not_drovers++;
        continue;
      }
      const found = await findJob(db, b.jobKey);
      const own = found?.provider === provider.name ? found : null;
      if (own && !own.provider_batch_id && own.status === 'creating' && own.updated_at.getTime() > now - graceMs) {
        report.left.creating++;
        continue;
      }
      await cancel(
        provider,
        b.id,
        own?.provider_batch_id ? `${b.jobKey} recorded another batch` : `no job recorded it (${b.jobKey})`,
        report,
      );
    }
    return report;
  }

  async function cancel(provider: BatchProvider, id: string, reason: string, report: OrphanReport): Promise<void> {
    await asProviderCall(provider, () => provider.cancel(id));
    log.warn('cancelled an orphaned provider batch', { provider: provider.name, providerBatchId: id, reason });
    report.cancelled.push({ id, reason });
  }
}

function emptyReport(provider: string): OrphanReport {
  return { provider, running: 0, settled: 0, cancelled: [], left: { collected: 0, creating: 0, not_drovers: 0 } };
}
