import { Context, log } from '@temporalio/activity';
import type { BatchProvider } from '../providers/types.js';
import type { Db } from '../store/db.js';
import {
  markCreateLost,
  recordedBatchIds,
  recordProviderBatch,
  unsettledCreates,
  withCreateLock,
  type ProviderJobRow,
} from '../store/provider-jobs.js';
import { asProviderCall } from './provider-failure.js';

/** Provider batches outlive their 24-hour window only as ended ones: older lost creates need no lookup. */
const LOST_CREATE_HORIZON_MS = 24 * 3600_000;
/** How far back recorded ids are gathered for a lookup: its own horizon plus clock skew, generously. */
const RECORDED_SLACK_MS = 3600_000;

/**
 * Runs `fn` under the provider's create lock when it has one (Anthropic, per workspace), else
 * at once. A waiting activity keeps heartbeating (the caller's `withHeartbeat`) and stops
 * waiting when it is cancelled.
 */
export function serialised<T>(db: Db, provider: BatchProvider, fn: () => Promise<T>): Promise<T> {
  if (!provider.createScope) return fn();
  return withCreateLock(db, provider.createScope, fn, Context.current().cancellationSignal);
}

/**
 * Looks at the provider for the batch a job's create may have made before its try died: by the
 * key it carries (OpenAI, Gemini) or, for Anthropic, by time, size, the job tag in its
 * custom_ids, and never a batch another job recorded.
 */
export async function findLostBatch(db: Db, provider: BatchProvider, job: ProviderJobRow): Promise<string | null> {
  const hint = {
    createdAfter: job.updated_at,
    requestCount: job.item_count,
    recorded: provider.createScope
      ? await recordedBatchIds(db, provider.name, new Date(job.updated_at.getTime() - RECORDED_SLACK_MS))
      : undefined,
  };
  return asProviderCall(provider, () => provider.findBatch(job.job_key, hint));
}

/**
 * Called under the create lock of a provider that has one: every other job of the provider
 * caught `creating` with nothing recorded died between create and record (a live one would
 * hold the lock). Its batch is looked up and recorded, or, when the provider has none, the job
 * goes back to `reserved` so its retry creates. Afterwards no unrecorded create is left in the
 * workspace, so the next lookup has at most one candidate of Drover's: the one it looks for. A
 * batch found for an attempt that was cancelled meanwhile is cancelled.
 */
export async function settleLostCreates(
  db: Db,
  provider: BatchProvider,
  opts: { exceptKey?: string; olderThan?: Date } = {},
): Promise<{ recorded: string[]; lost: number }> {
  const out = { recorded: [] as string[], lost: 0 };
  const since = new Date(Date.now() - LOST_CREATE_HORIZON_MS);
  for (const job of await unsettledCreates(db, provider.name, { ...opts, since })) {
    const found = await findLostBatch(db, provider, job);
    if (!found) {
      await markCreateLost(db, job.job_key);
      out.lost++;
      continue;
    }
    const recorded = await recordProviderBatch(db, job.job_key, found);
    log.warn('recorded the provider batch of a create that died before recording it', { key: job.job_key, providerBatchId: found });
    if (recorded.providerBatchId !== found || recorded.cancelRequested) {
      await asProviderCall(provider, () => provider.cancel(found));
      log.warn('cancelled it: its attempt was cancelled meanwhile', { key: job.job_key, providerBatchId: found });
    }
    out.recorded.push(found);
  }
  return out;
}
