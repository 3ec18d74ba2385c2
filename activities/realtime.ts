import { Context, log, sleep } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../domain/failure-types.js';
import { costNanosOf } from '../domain/pricing.js';
import { outputCap } from '../domain/estimate.js';
import type { ProviderName } from '../domain/provider-catalog.js';
import type { CallOutcome, ChatRequest, RealtimeProvider } from '../providers/types.js';
import { getChunk } from '../store/chunks.js';
import type { Db } from '../store/db.js';
import { unfinishedItems, type UnfinishedItem } from '../store/items.js';
import { tallyAttempt, upsertResults, type NewResult } from '../store/results.js';
import type { AttemptTally, RealtimeChunkInput } from '../workflows/contracts.js';
import { loadBatch } from './batches.js';
import { attemptTally, schemaOf, toChatRequest, withRepair } from './chunks.js';
import { withHeartbeat } from './heartbeat.js';
import { toResult } from './outcomes.js';
import { SharedRateLimiter, type RateLimits } from './rate-limiter.js';
import { NO_METRICS, type ActivityMetrics } from '../metrics/drover-metrics.js';
import { DEFAULT_RESULT_CACHE_TTL_MS, rememberBatchAnswers } from '../store/result-cache.js';

export interface RealtimeDeps {
  db: Db;
  providers: Partial<Record<ProviderName, RealtimeProvider>>;
  rateLimits: RateLimits;
  /** Calls in flight per running chunk. */
  concurrency: number;
  metrics?: ActivityMetrics;
  /** How long remembered answers stay in the result cache. */
  resultCacheTtlMs?: number;
}

/** Transient failures of one call are retried here, a few times, before the item waits for the next attempt. */
const TRANSIENT_TRIES = 3;
/** 429s are not failures of the item: they are waited out (Retry-After), up to this many per item. */
const RATE_LIMIT_WAITS = 50;

/**
 * Realtime mode: one synchronous call per item, `concurrency` at a time, each call drawing on the
 * shared rate limit first. Every finished item is written at once, so a retried activity (a
 * crashed worker) resumes with the items still unfinished and never pays for one twice. Each item
 * gets one paid answer per attempt, as on the batch path, so `max_attempts` bounds its calls.
 */
export function createRealtimeActivities(deps: RealtimeDeps) {
  return {
    async runRealtimeChunk(input: RealtimeChunkInput): Promise<AttemptTally> {
      const { db } = deps;
      const batch = await loadBatch(db, input.batchId);
      const chunk = await getChunk(db, input.batchId, input.chunkIndex);
      const provider = deps.providers[batch.provider as ProviderName];
      if (!provider)
        throw ApplicationFailure.nonRetryable(
          `provider "${batch.provider}" has no realtime API configured on this worker`,
          FailureType.InvalidBatch,
        );
      const pricing = batch.pricing;
      if (!pricing) throw ApplicationFailure.nonRetryable(`batch ${input.batchId} has no pricing`, FailureType.InvalidBatch);
      const limiter = SharedRateLimiter.for(db, deps.rateLimits, batch.provider, batch.spec.model);
      const schema = schemaOf(batch.spec);
      const ctx = Context.current();
      const items = await unfinishedItems(db, input.batchId, chunk.seq_start, chunk.seq_end);
      const cap = outputCap(batch.spec);

      // One writer at a time; each finished item is queued and written within milliseconds.
      let queue: NewResult[] = [];
      let writing: Promise<void> = Promise.resolve();
      const write = (r: NewResult) => {
        queue.push(r);
        writing = writing.then(async () => {
          if (queue.length === 0) return;
          const page = queue;
          queue = [];
          (deps.metrics ?? NO_METRICS).resultsWritten(batch, await upsertResults(db, batch.tenant_id, input.batchId, input.attempt, page));
        });
        return writing;
      };

      const callOnce = async (request: ChatRequest, tokens: number): Promise<CallOutcome> => {
        let transient = 0;
        let limited = 0;
        for (;;) {
          if (limiter) {
            const asked = performance.now();
            await limiter.acquire(tokens);
            (deps.metrics ?? NO_METRICS).rateLimitWaited(limiter.key, (performance.now() - asked) / 1000);
          }
          // A cancel stops new calls; a call already sent runs to its answer, which the provider
          // bills whether or not anyone reads it, so it is written like any other.
          if (ctx.cancellationSignal.aborted) throw new CancelledFailure('realtime chunk cancelled');
          try {
            return await provider.complete(request);
          } catch (err) {
            if (ctx.cancellationSignal.aborted) throw err;
            const info = provider.classifyError(err);
            if (!info) throw err;
            if (info.type === FailureType.ProviderRateLimited && ++limited <= RATE_LIMIT_WAITS) {
              await sleep(info.retryAfterMs ?? 1000);
              continue;
            }
            if (info.retryable && ++transient < TRANSIENT_TRIES) {
              await sleep(500 * 2 ** transient);
              continue;
            }
            if (info.type === FailureType.ProviderAuthentication) throw ApplicationFailure.nonRetryable(info.message, info.type);
            return {
              ok: false,
              retryable: info.retryable,
              usage: null,
              error: { code: info.type, message: info.message, ...(info.status ? { status_code: info.status } : {}) },
            };
          }
        }
      };

      // One call per item per attempt: an answer that breaks its schema waits for the chunk's next
      // attempt (with a repair prompt), which the batch reserves budget for before it starts.
      const runItem = async (item: UnfinishedItem) => {
        const request = withRepair(toChatRequest(batch.spec, item.input, cap), item.error);
        const outcome = await callOnce(request, item.est_input_tokens + (request.max_output_tokens ?? 0));
        const result = toResult(item.seq, outcome, schema, { final: input.final }, 'realtime');
        // Realtime calls are billed at the full (synchronous) price.
        await write({ ...result, cost_nanos: outcome.usage ? costNanosOf(outcome.usage, pricing, false) : 0 });
      };

      await withHeartbeat(async () => {
        let next = 0;
        const worker = async () => {
          while (next < items.length && !ctx.cancellationSignal.aborted) {
            try {
              await runItem(items[next++]!);
            } catch (err) {
              if (!ctx.cancellationSignal.aborted) throw err;
            }
          }
        };
        try {
          await Promise.all(Array.from({ length: Math.min(deps.concurrency, items.length) }, worker));
        } finally {
          await writing;
        }
      });
      await rememberBatchAnswers(db, batch, chunk, deps.resultCacheTtlMs ?? DEFAULT_RESULT_CACHE_TTL_MS);
      if (ctx.cancellationSignal.aborted) {
        log.info('realtime chunk cancelled; finished items are saved', { chunkIndex: input.chunkIndex });
        throw new CancelledFailure('realtime chunk cancelled');
      }
      return attemptTally(await tallyAttempt(db, input.batchId, chunk, input.attempt));
    },
  };
}
