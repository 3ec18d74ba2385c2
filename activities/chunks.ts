import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { PromptSpec } from '../domain/batch-spec.js';
import { FailureType } from '../domain/failure-types.js';
import { buildMessages, type StoredInput } from '../domain/prompt.js';
import type { ProviderName } from '../domain/provider-catalog.js';
import { BATCH_PROVIDERS } from '../domain/provider-catalog.js';
import type { BatchProvider, BatchRequest, ChatRequest, Providers } from '../providers/types.js';
import type { ItemError } from '../domain/responses.js';
import { choosePath } from '../domain/choose-path.js';
import { repairMessages } from '../domain/output-validation.js';
import { toResult } from './outcomes.js';
import { getChunk } from '../store/chunks.js';
import type { Db } from '../store/db.js';
import { unfinishedItems } from '../store/items.js';
import { findJob, jobKey, recordInputFile, recordProviderBatch, reserveJob, setJobStatus } from '../store/provider-jobs.js';
import { markUnanswered, tallyAttempt, upsertResults, type NewResult } from '../store/results.js';
import type { AttemptTally, ChunkRef, CollectChunkInput, PollResult, SubmitChunkResult } from '../workflows/contracts.js';
import { costOf } from '../domain/pricing.js';
import { loadBatch } from './batches.js';
import { withHeartbeat } from './heartbeat.js';
import { asProviderCall } from './provider-failure.js';

export { toResult } from './outcomes.js';

const WRITE_PAGE = 1000;

export function createChunkActivities(db: Db, providers: Providers) {
  const providerFor = (name: string): BatchProvider => {
    const p = providers.batch[name as ProviderName];
    if (!p) throw ApplicationFailure.nonRetryable(`provider "${name}" has no batch API configured on this worker`, FailureType.InvalidBatch);
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
      if (existing?.provider_batch_id) return { providerBatchId: existing.provider_batch_id, itemCount: existing.item_count, path: 'batch' };

      const batch = await loadBatch(db, ref.batchId);
      const chunk = await getChunk(db, ref.batchId, ref.chunkIndex);
      const items = await unfinishedItems(db, ref.batchId, chunk.seq_start, chunk.seq_end);
      if (items.length === 0) return { providerBatchId: null, itemCount: 0, path: 'batch' };
      // A job already reserved for this attempt means an earlier try chose the batch path.
      const hasBatchApi = BATCH_PROVIDERS.includes(batch.provider as ProviderName) && providers.batch[batch.provider as ProviderName] !== undefined;
      const path = existing ? 'batch' : choosePath(batch.mode, { hasBatchApi, items: items.length, attempt: ref.attempt, maxAttempts: batch.settings.max_attempts });
      if (path === 'realtime') return { providerBatchId: null, itemCount: items.length, path };
      const provider = providerFor(batch.provider);

      const job = await reserveJob(db, { tenant_id: batch.tenant_id, batch_id: ref.batchId, chunk_idx: ref.chunkIndex, attempt: ref.attempt, provider: provider.name, item_count: items.length });
      return withHeartbeat(async () => {
        if (job.status === 'creating') {
          // An earlier try may have created the batch and died before recording it.
          // Marked `creating` just before the create call: the orphan was made after this instant.
          const hint = { createdAfter: job.updated_at, requestCount: job.item_count };
          const found = await asProviderCall(provider, () => provider.findBatch(key, hint));
          if (found) {
            log.warn('found provider batch created by an earlier try', { key, providerBatchId: found });
            await recordProviderBatch(db, key, found);
            return { providerBatchId: found, itemCount: job.item_count, path: 'batch' as const };
          }
        }
        const requests = toBatchRequests(batch.spec, items);
        let staged = job.input_file_id;
        if (!staged) {
          staged = await asProviderCall(provider, () => provider.stageInput(key, requests));
          if (staged) await recordInputFile(db, key, staged);
        }
        await setJobStatus(db, key, 'creating');
        const providerBatchId = await asProviderCall(provider, () => provider.createBatch(key, requests, staged));
        await recordProviderBatch(db, key, providerBatchId);
        return { providerBatchId, itemCount: job.item_count, path: 'batch' as const };
      });
    },

    async pollProviderBatch({ batchId, providerBatchId }: { batchId: string; providerBatchId: string }): Promise<PollResult> {
      const provider = providerFor((await loadBatch(db, batchId)).provider);
      const s = await asProviderCall(provider, () => provider.retrieve(providerBatchId));
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
      const schema = schemaOf(batch.spec);
      const pricing = batch.pricing;
      if (!pricing) throw ApplicationFailure.nonRetryable(`batch ${input.batchId} has no pricing`, FailureType.InvalidBatch);
      const outcome = { final: input.final, stopping: input.stopping ?? false };

      return withHeartbeat(async () => {
        const status = await asProviderCall(provider, () => provider.retrieve(input.providerBatchId));
        let page: NewResult[] = [];
        const flush = async () => {
          await upsertResults(db, batch.tenant_id, input.batchId, input.attempt, page);
          page = [];
          Context.current().heartbeat();
        };
        await asProviderCall(provider, async () => {
          for await (const line of provider.results(input.providerBatchId)) {
            const seq = Number(line.customId);
            if (!Number.isInteger(seq) || seq < chunk.seq_start || seq >= chunk.seq_end) {
              log.warn('provider returned a result for an unknown custom_id', { key, customId: line.customId.slice(0, 80) });
              continue;
            }
            page.push({ ...toResult(seq, line, schema, outcome, 'batch'), cost_usd: line.usage ? costOf(line.usage, pricing, true) : 0 });
            if (page.length >= WRITE_PAGE) await flush();
          }
        });
        await flush();
        await markUnanswered(db, batch.tenant_id, input.batchId, chunk, input.attempt, outcome.stopping ? 'cancelled' : input.final ? 'failed' : 'pending', {
          code: status.state === 'completed' ? 'missing_result' : `provider_batch_${status.state}`,
          message: status.error ?? `the provider batch ended ${status.state} without a result for this item`,
        });
        await setJobStatus(db, key, `collected:${status.state}`);
        const t = await tallyAttempt(db, input.batchId, chunk, input.attempt);
        return { succeeded: t.succeeded, failed: t.failed, cancelled: t.cancelled, pending: t.pending, usage: t.usage, costUsd: t.cost_usd };
      });
    },

    /** What one attempt of a chunk wrote so far: how a cancelled realtime attempt still reports. */
    async tallyChunk(ref: ChunkRef): Promise<AttemptTally> {
      const chunk = await getChunk(db, ref.batchId, ref.chunkIndex);
      const t = await tallyAttempt(db, ref.batchId, chunk, ref.attempt);
      return { succeeded: t.succeeded, failed: t.failed, cancelled: t.cancelled, pending: t.pending, usage: t.usage, costUsd: t.cost_usd };
    },

    /**
     * Cancels the provider batch of one chunk attempt, if it was created (looked up by key, so a
     * submit interrupted before returning is covered) and is not over yet. Returns its id.
     */
    async cancelChunk(ref: ChunkRef): Promise<{ providerBatchId: string | null }> {
      const job = await findJob(db, jobKey(ref.batchId, ref.chunkIndex, ref.attempt));
      if (!job?.provider_batch_id) return { providerBatchId: null };
      const id = job.provider_batch_id;
      const provider = providerFor(job.provider);
      const status = await asProviderCall(provider, () => provider.retrieve(id));
      if (!status.terminal && status.state !== 'cancelling') {
        await asProviderCall(provider, () => provider.cancel(id));
        log.info('cancelled provider batch', { providerBatchId: id, chunkIndex: ref.chunkIndex });
      }
      return { providerBatchId: id };
    },
  };
}

/** The chat request for one stored item under the batch's prompt spec. */
export function toChatRequest(spec: PromptSpec, input: StoredInput): ChatRequest {
  const request: ChatRequest = { model: spec.model, messages: buildMessages(spec, input) };
  if (spec.response_format) request.response_format = spec.response_format;
  if (spec.max_output_tokens) request.max_output_tokens = spec.max_output_tokens;
  if (spec.citations) request.citations = true;
  return request;
}

/**
 * Items as provider requests; the custom id is the item's seq, which results join back on. An
 * item whose last answer broke its schema is asked again with a repair prompt quoting the errors.
 */
export function toBatchRequests(spec: PromptSpec, items: Array<{ seq: number; input: StoredInput; error?: ItemError | null }>): BatchRequest[] {
  return items.map(({ seq, input, error }) => ({ customId: String(seq), request: withRepair(toChatRequest(spec, input), error) }));
}

/** Adds the repair turn when the previous answer was JSON that failed, or text that was not JSON. */
export function withRepair(request: ChatRequest, error: ItemError | null | undefined): ChatRequest {
  if (!error?.raw_output || (error.code !== 'schema_invalid' && error.code !== 'invalid_json')) return request;
  return { ...request, messages: repairMessages(request.messages, error.raw_output, error.errors ?? [error.message]) };
}

export function schemaOf(spec: PromptSpec): Record<string, unknown> | null {
  return spec.response_format?.type === 'json_schema' ? spec.response_format.json_schema.schema : null;
}
