import { setImmediate as nextTurn } from 'node:timers/promises';
import { Context, log, sleep } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { PromptSpec } from '../domain/batch-spec.js';
import { FailureType } from '../domain/failure-types.js';
import { buildMessages, type StoredInput } from '../domain/prompt.js';
import type { ProviderName } from '../domain/provider-catalog.js';
import type { BatchProvider, BatchRequest, ChatRequest, Providers } from '../providers/types.js';
import type { ItemError } from '../domain/responses.js';
import { repairMessages } from '../domain/output-validation.js';
import { toResult } from './outcomes.js';
import { getChunk } from '../store/chunks.js';
import type { ChunkRange } from '../domain/chunk-plan.js';
import type { BatchRow } from '../store/rows.js';
import type { Db } from '../store/db.js';
import { unfinishedItems } from '../store/items.js';
import {
  findJob,
  jobKey,
  latestJob,
  markCreating,
  recordInputFile,
  recordProviderBatch,
  requestCancel,
  reserveJob,
  setJobStatus,
  type ProviderJobRow,
} from '../store/provider-jobs.js';
import {
  closeUnfinished,
  markUnanswered,
  tallyAttempt,
  tallyRange,
  upsertResults,
  type AttemptTally as StoreAttemptTally,
  type NewResult,
  type WriteEffect,
} from '../store/results.js';
import type {
  AttemptTally,
  ChunkRef,
  CloseChunkInput,
  CollectChunkInput,
  PollResult,
  ReconciledChunk,
  SubmitChunkResult,
  Tally,
} from '../workflows/contracts.js';
import { costNanosOf } from '../domain/pricing.js';
import { outputCap } from '../domain/estimate.js';
import { chunkWorkflowId } from '../workflows/chunk-id.js';
import { settleChunkHolds } from '../store/tenant-quotas.js';
import { sampleCostInRange } from '../store/samples.js';
import { loadBatch } from './batches.js';
import { attemptPath } from './attempt-path.js';
import { withHeartbeat } from './heartbeat.js';
import { TransferSlots } from './transfer-slots.js';
import { findLostBatch, serialised, settleLostCreates } from './lost-creates.js';
import { asProviderCall } from './provider-failure.js';
import { NO_METRICS, type ActivityMetrics } from '../metrics/drover-metrics.js';
import { DEFAULT_RESULT_CACHE_TTL_MS, rememberBatchAnswers } from '../store/result-cache.js';

export { toResult } from './outcomes.js';

/** Results written per statement (one JSON array: see store/results.ts). */
const WRITE_PAGE = 2000;
/**
 * Submits and collects at once per worker by default: each holds a chunk's items or results in
 * memory, and on 2 cores more than a few at once only interleave the same CPU work.
 */
export const DEFAULT_MAX_TRANSFERS = 4;
/** How long reconciling waits for a cancelled provider batch to end, to keep what it answered. */
const SALVAGE_WAIT_MS = 15_000;
const SALVAGE_POLL_MS = 1_000;
/** Items turned into requests between two turns of the event loop (a few ms of work). */
const YIELD_EVERY = 2000;

export interface ChunkActivityOptions {
  /** Submits and collects this worker runs at once (DROVER_MAX_CONCURRENT_TRANSFERS); more wait for a slot. */
  maxTransfers?: number;
}

export function createChunkActivities(
  db: Db,
  providers: Providers,
  metrics: ActivityMetrics = NO_METRICS,
  resultCacheTtlMs = DEFAULT_RESULT_CACHE_TTL_MS,
  opts: ChunkActivityOptions = {},
) {
  const transfers = new TransferSlots(opts.maxTransfers ?? DEFAULT_MAX_TRANSFERS);
  /** A transfer in a slot, heartbeating meanwhile (the wait for a slot included). */
  const inSlot = <T>(fn: () => Promise<T>): Promise<T> => withHeartbeat(() => transfers.use(fn, Context.current().cancellationSignal));
  const providerFor = (name: string): BatchProvider => {
    const p = providers.batch[name as ProviderName];
    if (!p)
      throw ApplicationFailure.nonRetryable(`provider "${name}" has no batch API configured on this worker`, FailureType.InvalidBatch);
    return p;
  };

  return {
    /**
     * Sends the chunk's unfinished items as one provider batch. Exactly once: the provider job
     * row (key batch:chunk:attempt) is claimed before any provider call; a retry returns the
     * recorded batch, or — after a crash between create and record — finds it at the provider
     * by the key it carries in its metadata, before it would ever create another.
     */
    async submitChunk(ref: ChunkRef): Promise<SubmitChunkResult> {
      const key = jobKey(ref.batchId, ref.chunkIndex, ref.attempt);
      const existing = await findJob(db, key);
      if (existing?.provider_batch_id)
        return { providerBatchId: existing.provider_batch_id, itemCount: existing.item_count, path: 'batch' };
      return inSlot(() => submit(ref, key, existing));
    },

    /** A provider batch that no longer exists (404) is over: collect finds it gone and resends its items. */
    async pollProviderBatch({ batchId, providerBatchId }: { batchId: string; providerBatchId: string }): Promise<PollResult> {
      const provider = providerFor((await loadBatch(db, batchId)).provider);
      const s = await retrieveOrGone(provider, providerBatchId);
      if (!s) return { state: 'vanished', terminal: true, counts: { total: 0, completed: 0, failed: 0 } };
      return { state: s.state, terminal: s.terminal, counts: s.counts };
    },

    /**
     * Reads the provider's output and error files as streams and writes one row per item, a page
     * at a time. Items the provider did not answer are recorded too. Retry-safe: rows are keyed
     * by item and attempt, and the tally is read back from the store.
     */
    async collectChunk(input: CollectChunkInput): Promise<AttemptTally> {
      const batch = await loadBatch(db, input.batchId);
      const chunk = await getChunk(db, input.batchId, input.chunkIndex);
      const provider = providerFor(batch.provider);
      const key = jobKey(input.batchId, input.chunkIndex, input.attempt);
      const outcome = { final: input.final, stopping: input.stopping ?? false };
      /** Items this attempt sent that got no answer: resent next attempt, failed on the last, cancelled when stopping. */
      const closeUnanswered = async (error: ItemError) =>
        metrics.resultsWritten(
          batch,
          await markUnanswered(
            db,
            batch.tenant_id,
            input.batchId,
            chunk,
            input.attempt,
            outcome.stopping ? 'cancelled' : input.final ? 'failed' : 'pending',
            error,
          ),
        );

      return inSlot(async () => {
        const status = await retrieveOrGone(provider, input.providerBatchId);
        if (!status) {
          // The provider lost the batch (expired from its store, or an emulator restarted): what
          // it never answered is sent again by the next attempt, or fails on the last one.
          await closeUnanswered({
            code: 'provider_batch_vanished',
            message: `the provider no longer knows batch ${input.providerBatchId}`,
          });
          await setJobStatus(db, key, 'collected:vanished');
          return attemptTally(await tallyAttempt(db, input.batchId, chunk, input.attempt));
        }
        await writeAnswers(batch, chunk, input, outcome);
        await rememberBatchAnswers(db, batch, chunk, resultCacheTtlMs);
        await closeUnanswered({
          code: status.state === 'completed' ? 'missing_result' : `provider_batch_${status.state}`,
          message: status.error ?? `the provider batch ended ${status.state} without a result for this item`,
        });
        await setJobStatus(db, key, `collected:${status.state}`);
        return attemptTally(await tallyAttempt(db, input.batchId, chunk, input.attempt));
      });
    },

    /** Every item of a chunk by outcome, all attempts counted: what a chunk reports when it ends. */
    async tallyChunkRange({ batchId, chunkIndex }: { batchId: string; chunkIndex: number }): Promise<Tally> {
      const tally = await chunkTallyOf(batchId, await getChunk(db, batchId, chunkIndex));
      await settleChunkHolds(db, batchId, chunkIndex, tally.costUsd);
      return tally;
    },

    /** Ends a chunk that failed: its items without an outcome are closed with the reason. */
    async closeChunk(input: CloseChunkInput): Promise<Tally> {
      return closeChunkItems(input);
    },

    /**
     * The batch's safety net: looks its running chunks up in Temporal and closes each one that has
     * ended without reporting (terminated from the UI, timed out, failed where its own code could
     * not catch it), so the batch never waits on a chunk that will not come back.
     */
    async reconcileChunks({ batchId, chunkIndexes }: { batchId: string; chunkIndexes: number[] }): Promise<ReconciledChunk[]> {
      const client = Context.current().client;
      const reconcile = async (chunkIndex: number): Promise<ReconciledChunk | null> => {
        let state: string;
        try {
          state = (await client.workflow.getHandle(chunkWorkflowId(batchId, chunkIndex)).describe()).status.name;
        } catch (err) {
          if ((err as Error).name !== 'WorkflowNotFoundError') throw err;
          state = 'NOT_FOUND';
        }
        if (state === 'RUNNING') return null;
        // Its last attempt's provider batch may still run and bill: nobody will collect it now.
        const job = await latestJob(db, batchId, chunkIndex);
        if (job && !job.status.startsWith('collected:')) await salvageAttempt({ batchId, chunkIndex, attempt: job.attempt });
        const error = `the chunk workflow ended ${state.toLowerCase()} without reporting`;
        const tally = await closeChunkItems({ batchId, chunkIndex, status: 'failed', error: { code: 'chunk_failed', message: error } });
        return { chunkIndex, tally, error };
      };
      // Side by side: each may wait a little for its cancelled provider batch to end.
      const closed = await Promise.all(chunkIndexes.map(reconcile));
      return closed.filter((c): c is ReconciledChunk => c !== null);
    },

    /** Cancels the provider batch of one chunk attempt (see cancelAttempt) and returns its id. */
    async cancelChunk(ref: ChunkRef): Promise<{ providerBatchId: string | null }> {
      return cancelAttempt(ref);
    },

    /** An attempt given up on: its provider batch is cancelled, and what it answered before that is kept. */
    async salvageAttempt(ref: ChunkRef): Promise<{ providerBatchId: string | null }> {
      return salvageAttempt(ref);
    },
  };

  /** The body of submitChunk, in a transfer slot: loads the chunk's items, stages them and creates the provider batch. */
  async function submit(ref: ChunkRef, key: string, existing: ProviderJobRow | null): Promise<SubmitChunkResult> {
    const batch = await loadBatch(db, ref.batchId);
    const chunk = await getChunk(db, ref.batchId, ref.chunkIndex);
    const items = await unfinishedItems(db, ref.batchId, chunk.seq_start, chunk.seq_end);
    if (items.length === 0) return { providerBatchId: null, itemCount: 0, path: 'batch' };
    // A job already reserved for this attempt means an earlier try chose the batch path.
    const path = existing ? 'batch' : attemptPath(batch, providers, items.length, ref.attempt);
    if (path === 'realtime') return { providerBatchId: null, itemCount: items.length, path };
    const provider = providerFor(batch.provider);

    const reserved = await reserveJob(db, {
      tenant_id: batch.tenant_id,
      batch_id: ref.batchId,
      chunk_idx: ref.chunkIndex,
      attempt: ref.attempt,
      provider: provider.name,
      item_count: items.length,
    });
    // Anthropic's creates run one at a time per workspace (see `serialised`), lookups included.
    return serialised(db, provider, async () => {
      let job = reserved;
      if (provider.createScope) {
        // The row may have moved on while this try waited for the lock.
        job = (await findJob(db, key)) ?? reserved;
        if (job.provider_batch_id) return { providerBatchId: job.provider_batch_id, itemCount: job.item_count, path: 'batch' as const };
        await settleLostCreates(db, provider, { exceptKey: key });
      }
      if (job.status === 'creating') {
        // An earlier try may have created the batch and died before recording it.
        // Marked `creating` just before the create call: the orphan was made after this instant.
        const found = await findLostBatch(db, provider, job);
        if (found) {
          log.warn('found provider batch created by an earlier try', { key, providerBatchId: found });
          const recorded = await recordProviderBatch(db, key, found);
          return { providerBatchId: recorded.providerBatchId, itemCount: job.item_count, path: 'batch' as const };
        }
      }
      const requests = await toBatchRequestsYielding(batch.spec, items);
      let staged = job.input_file_id;
      if (!staged) {
        staged = await asProviderCall(provider, () => provider.stageInput(key, requests));
        if (staged) await recordInputFile(db, key, staged);
      }
      // The last moment to stop for free: a cancel that reached this activity, or one that
      // marked the job (the chunk is being cancelled while this try still runs), ends it here.
      if (Context.current().cancellationSignal.aborted)
        throw new CancelledFailure('the chunk was cancelled before its provider batch was created');
      if (!(await markCreating(db, key))) {
        throw ApplicationFailure.nonRetryable('the chunk was cancelled before its provider batch was created', FailureType.SubmitCancelled);
      }
      const created = await asProviderCall(provider, async () => {
        try {
          return await provider.createBatch(key, requests, staged);
        } catch (err) {
          // The staged input is gone (the provider expired or lost the file): stage it again.
          if (!staged || provider.classifyError(err)?.status !== 404) throw err;
          staged = await provider.stageInput(key, requests);
          if (staged) await recordInputFile(db, key, staged);
          return provider.createBatch(key, requests, staged);
        }
      });
      const recorded = await recordProviderBatch(db, key, created);
      if (recorded.providerBatchId !== created || recorded.cancelRequested) {
        // Another live try recorded its batch first, or a cancel looked before this one
        // existed: this batch is nobody's, so it is cancelled before it can bill.
        log.warn('cancelling a provider batch nobody will collect', {
          key,
          providerBatchId: created,
          recorded: recorded.providerBatchId,
        });
        await asProviderCall(provider, () => provider.cancel(created));
      }
      return { providerBatchId: recorded.providerBatchId, itemCount: job.item_count, path: 'batch' as const };
    });
  }

  /**
   * Cancels the provider batch of one chunk attempt and returns its id. The job is marked first,
   * so a submit still running can no longer create; a job caught `creating` may have made a
   * batch whose id was never recorded, so it is looked up at the provider by key.
   */
  async function cancelAttempt(ref: ChunkRef): Promise<{ providerBatchId: string | null }> {
    const batch = await loadBatch(db, ref.batchId);
    const key = jobKey(ref.batchId, ref.chunkIndex, ref.attempt);
    const job = await requestCancel(db, {
      tenant_id: batch.tenant_id,
      batch_id: ref.batchId,
      chunk_idx: ref.chunkIndex,
      attempt: ref.attempt,
      provider: batch.provider,
    });
    let id = job.provider_batch_id;
    const provider = providers.batch[job.provider as ProviderName];
    if (!provider) return { providerBatchId: id };
    if (!id && job.status === 'creating') {
      id = await serialised(db, provider, async () => {
        // Under Anthropic's lock a submit still creating has finished: read the row again.
        const now = provider.createScope ? ((await findJob(db, key)) ?? job) : job;
        if (now.provider_batch_id || now.status !== 'creating') return now.provider_batch_id;
        const found = await findLostBatch(db, provider, now);
        return found ? (await recordProviderBatch(db, key, found)).providerBatchId : null;
      });
    }
    if (!id) return { providerBatchId: null };
    // A provider that will not say how its batch stands (it refuses polls) is asked to cancel all the same.
    const status = await retrieveOrGone(provider, id).catch(() => undefined);
    if (status === null) return { providerBatchId: null };
    if (!status || (!status.terminal && status.state !== 'cancelling')) {
      await asProviderCall(provider, () => provider.cancel(id));
      log.info('cancelled provider batch', { providerBatchId: id, chunkIndex: ref.chunkIndex });
    }
    return { providerBatchId: id };
  }

  /**
   * Writes one row per line the provider answered (none for lines it did not): the answer, or
   * the error that stays pending for the next attempt, at the batch price.
   */
  async function writeAnswers(
    batch: BatchRow,
    chunk: ChunkRange,
    input: CollectChunkInput,
    outcome: { final: boolean; stopping: boolean },
    billedOnly = false,
  ) {
    const provider = providerFor(batch.provider);
    const schema = schemaOf(batch.spec);
    const pricing = batch.pricing;
    if (!pricing) throw ApplicationFailure.nonRetryable(`batch ${input.batchId} has no pricing`, FailureType.InvalidBatch);
    const ctx = Context.current();
    let page: NewResult[] = [];
    // One page is written while the next is parsed, so the store's work and this process's overlap;
    // at most one write is in flight, so memory holds two pages at most.
    let writing: Promise<WriteEffect> | null = null;
    const settle = async () => {
      if (!writing) return;
      const effect = await writing;
      writing = null;
      metrics.resultsWritten(batch, effect);
      ctx.heartbeat();
    };
    const drain = async () => {
      await writing?.catch(() => {});
    };
    const flush = async () => {
      await settle();
      if (page.length === 0) return;
      writing = upsertResults(db, batch.tenant_id, input.batchId, input.attempt, page);
      // Awaited by the next settle; handled now so a failure meanwhile is not an unhandled rejection.
      writing.catch(() => {});
      page = [];
    };
    try {
      await asProviderCall(provider, async () => {
        for await (const line of provider.results(input.providerBatchId)) {
          const seq = Number(line.customId);
          if (!Number.isInteger(seq) || seq < chunk.seq_start || seq >= chunk.seq_end) {
            log.warn('provider returned a result for an unknown custom_id', {
              key: jobKey(input.batchId, input.chunkIndex, input.attempt),
              customId: line.customId.slice(0, 80),
            });
            continue;
          }
          if (billedOnly && !line.usage) continue;
          page.push({
            ...toResult(seq, line, schema, outcome, 'batch'),
            cost_nanos: line.usage ? costNanosOf(line.usage, pricing, true) : 0,
          });
          if (page.length >= WRITE_PAGE) await flush();
        }
      });
    } catch (err) {
      // A failed read leaves no write running behind it into the retry.
      await drain();
      throw err;
    }
    await flush();
    await settle();
  }

  async function salvageAttempt(ref: ChunkRef): Promise<{ providerBatchId: string | null }> {
    const { providerBatchId } = await cancelAttempt(ref);
    if (providerBatchId) await salvageAnswers(ref, providerBatchId);
    return { providerBatchId };
  }

  /**
   * An attempt given up on (its chunk failed, or ended without reporting) had its provider
   * batch cancelled; what that batch answered before it stopped is billed, so it is kept, once
   * the batch ends (within SALVAGE_WAIT_MS; a provider slower to cancel leaves those answers
   * unrecorded, and logged).
   */
  async function salvageAnswers(ref: ChunkRef, providerBatchId: string): Promise<void> {
    const batch = await loadBatch(db, ref.batchId);
    const provider = providerFor(batch.provider);
    const deadline = Date.now() + SALVAGE_WAIT_MS;
    for (;;) {
      const status = await retrieveOrGone(provider, providerBatchId).catch(() => null);
      if (!status) return;
      if (status.terminal) break;
      if (Date.now() > deadline) {
        log.warn('a cancelled provider batch did not end in time; its answers are not recorded', { ...ref, providerBatchId });
        return;
      }
      await sleep(SALVAGE_POLL_MS);
    }
    const chunk = await getChunk(db, ref.batchId, ref.chunkIndex);
    // Only what was billed: a line the cancel stopped is closed with the chunk's own reason.
    await writeAnswers(batch, chunk, { ...ref, providerBatchId, final: true }, { final: true, stopping: false }, true);
    await setJobStatus(db, jobKey(ref.batchId, ref.chunkIndex, ref.attempt), 'collected:salvaged');
  }

  async function closeChunkItems(input: CloseChunkInput): Promise<Tally> {
    const batch = await loadBatch(db, input.batchId);
    const chunk = await getChunk(db, input.batchId, input.chunkIndex);
    const closed = await closeUnfinished(db, batch.tenant_id, input.batchId, input.error, { status: input.status, range: chunk });
    metrics.resultsWritten(batch, closed);
    const tally = await chunkTallyOf(input.batchId, chunk);
    await settleChunkHolds(db, input.batchId, input.chunkIndex, tally.costUsd);
    return tally;
  }

  /** A chunk's tally from the store, with the part of its cost that its items spent in the sample. */
  async function chunkTallyOf(batchId: string, chunk: ChunkRange): Promise<Tally> {
    const tally = chunkTally(await tallyRange(db, batchId, chunk));
    const sampleCostUsd = await sampleCostInRange(db, batchId, chunk);
    return sampleCostUsd > 0 ? { ...tally, sampleCostUsd } : tally;
  }

  /** The provider's view of a batch, or null when it answers that there is no such batch. */
  async function retrieveOrGone(provider: BatchProvider, id: string) {
    return asProviderCall(provider, async () => {
      try {
        return await provider.retrieve(id);
      } catch (err) {
        if (provider.classifyError(err)?.status === 404) return null;
        throw err;
      }
    });
  }
}

/** An attempt's tally as the store reads it, in the workflows' terms. */
export function attemptTally(t: StoreAttemptTally): AttemptTally {
  return { succeeded: t.succeeded, failed: t.failed, cancelled: t.cancelled, pending: t.pending, usage: t.usage, costUsd: t.cost_usd };
}

function chunkTally(t: StoreAttemptTally): Tally {
  return { succeeded: t.succeeded, failed: t.failed, cancelled: t.cancelled, usage: t.usage, costUsd: t.cost_usd };
}

/**
 * The chat request for one stored item under the batch's prompt spec. Every request carries the
 * output cap its budget reserved, so no answer can cost more than was set aside for it.
 */
export function toChatRequest(spec: PromptSpec, input: StoredInput, cap: number = outputCap(spec)): ChatRequest {
  const request: ChatRequest = { model: spec.model, messages: buildMessages(spec, input), max_output_tokens: cap };
  if (spec.response_format) request.response_format = spec.response_format;
  if (spec.citations) request.citations = true;
  return request;
}

/**
 * Items as provider requests; the custom id is the item's seq, which results join back on. An
 * item whose last answer broke its schema is asked again with a repair prompt quoting the errors.
 */
export function toBatchRequests(
  spec: PromptSpec,
  items: Array<{ seq: number; input: StoredInput; error?: ItemError | null }>,
): BatchRequest[] {
  // The cap depends on the spec alone: sized once, not per item (it walks the schema).
  const cap = outputCap(spec);
  return items.map(({ seq, input, error }) => ({ customId: String(seq), request: withRepair(toChatRequest(spec, input, cap), error) }));
}

/** As `toBatchRequests`, with a turn of the event loop every few thousand items: a chunk holds up to 50,000. */
async function toBatchRequestsYielding(spec: PromptSpec, items: Parameters<typeof toBatchRequests>[1]): Promise<BatchRequest[]> {
  const out: BatchRequest[] = [];
  for (let i = 0; i < items.length; i += YIELD_EVERY) {
    out.push(...toBatchRequests(spec, items.slice(i, i + YIELD_EVERY)));
    await nextTurn();
  }
  return out;
}

/** Adds the repair turn when the previous answer was JSON that failed, or text that was not JSON. */
export function withRepair(request: ChatRequest, error: ItemError | null | undefined): ChatRequest {
  if (!error?.raw_output || (error.code !== 'schema_invalid' && error.code !== 'invalid_json')) return request;
  return { ...request, messages: repairMessages(request.messages, error.raw_output, error.errors ?? [error.message]) };
}

export function schemaOf(spec: PromptSpec): Record<string, unknown> | null {
  return spec.response_format?.type === 'json_schema' ? spec.response_format.json_schema.schema : null;
}
