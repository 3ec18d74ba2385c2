/**
 * `/v1/messages/batches`: Anthropic's Message Batches. Lifecycle `in_progress → ended`, or with a
 * cancel `canceling → ended`; there is no failed state, so every outcome is per request in the
 * results: succeeded, errored, canceled or expired. `request_counts` shows everything as
 * `processing` until the batch ends, and `results_url` stays null until then and is afterwards an
 * absolute URL on this server (as the client addressed it), which the SDK fetches as it is.
 *
 * Faults: `batch_fail` errors every request (`api_error`), `batch_expire` ends the batch part-way
 * with the rest `expired`, `line_errors` and `malformed_json` work per request position.
 */
import type { MessageBatch, MessageBatchIndividualResponse } from '@anthropic-ai/sdk/resources/messages/batches';
import { ApiError, badRequest, faultError, notFound } from '../api-error.js';
import { MAX_CANCEL_DELAY_MS, requestsDueAt, shuffleSeeded, TransitionTimers } from '../batch-clock.js';
import type { FaultState } from '../faults.js';
import { newMessageBatchId, newRequestId, rfc3339 } from '../ids.js';
import { pageOf } from '../paging.js';
import { headerValue, jsonBody, type Router } from '../routing.js';
import { RecordDir } from '../state-dir.js';
import { countBatchKeys, type EmulatorStats } from '../stats.js';
import { anthropicErrorBody } from './edge.js';
import { generateMessage, parseMessageRequest, type MessageRequest } from './message.js';
import { touchPrefix } from './messages.js';
import type { PromptCache } from '../prompt-cache.js';
import { ANTHROPIC_UNPARSEABLE, tooLarge } from './messages.js';

const MAX_REQUESTS = 100_000;
const MAX_BATCH_BYTES = 256 * 1024 * 1024;
const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const EXPIRES_AFTER_MS = 24 * 3600 * 1000;

interface BatchRequest {
  custom_id: string;
  req: MessageRequest;
  /** 1-based, what `line_errors.every` counts. */
  position: number;
}

type Counts = Omit<MessageBatch['request_counts'], 'processing'>;

interface BatchRecord {
  id: string;
  version: string | undefined;
  createdMs: number;
  processingMs: number;
  status: MessageBatch['processing_status'];
  requests: BatchRequest[];
  total: number;
  processed: number;
  lines: string[];
  counts: Counts;
  failInjected: boolean;
  expireAfterFraction: number | undefined;
  cancelInitiatedMs: number | null;
  cancelDoneMs: number;
  endedMs: number | null;
  /** The results JSONL, written when the batch ends. */
  results: Buffer | null;
}

/**
 * What is kept of a batch across restarts, written when it is created, cancelled and ended; the
 * `requests` blob holds its requests as sent, the `results` blob its results once it has ended.
 * Progress in between is derived again from the clock: the answers depend only on the requests.
 */
export interface AnthropicBatchSnapshot {
  createdMs: number;
  processingMs: number;
  status: MessageBatch['processing_status'];
  /** The `anthropic-version` the batch was created with, which its requests are parsed under. */
  version: string | null;
  total: number;
  /** Requests answered when it was saved: what a cancel leaves answered. */
  processed: number;
  counts: Counts;
  failInjected: boolean;
  expireAfterFraction?: number;
  cancelInitiatedMs: number | null;
  cancelDoneMs: number;
  endedMs: number | null;
}

export interface AnthropicBatchStoreDeps {
  faults: FaultState;
  stats: EmulatorStats;
  /** Processing time for a batch created now (the option, possibly overridden by a fault). */
  processingMs: () => number;
  /** Where batches are kept across restarts (`stateDir`); none keeps them in memory only. */
  persist?: RecordDir<AnthropicBatchSnapshot>;
  /** Prefixes seen before are cache reads, as the real batch API reads them (best effort there). */
  promptCache?: PromptCache;
}

export class AnthropicBatchStore {
  /** Map iteration order is creation order, which listing relies on. */
  private readonly records = new Map<string, BatchRecord>();
  private readonly timers = new TransitionTimers();

  constructor(private readonly deps: AnthropicBatchStoreDeps) {}

  /**
   * Loads the batches a previous process kept; returns how many. An unfinished one answers again
   * the requests it had answered when saved and then runs on by the clock, as if never interrupted.
   */
  restore(warn: (message: string) => void): number {
    const restored = this.deps.persist?.load(warn, ({ id, record: snap, blob }) => {
      const ended = snap.status === 'ended';
      const raw = ended ? RecordDir.need(blob('results'), 'results') : RecordDir.need(blob('requests'), 'requests');
      const version = snap.version ?? undefined;
      const record: BatchRecord = {
        id,
        version,
        createdMs: snap.createdMs,
        processingMs: snap.processingMs,
        status: snap.status,
        requests: ended ? [] : parseRequests(JSON.parse(raw.toString('utf8')) as unknown[], version),
        total: snap.total,
        processed: 0,
        lines: [],
        // Answered again below, so counted again.
        counts: ended ? snap.counts : { succeeded: 0, errored: 0, canceled: 0, expired: 0 },
        failInjected: snap.failInjected,
        expireAfterFraction: snap.expireAfterFraction,
        cancelInitiatedMs: snap.cancelInitiatedMs,
        cancelDoneMs: snap.cancelDoneMs,
        endedMs: snap.endedMs,
        results: ended ? raw : null,
      };
      if (!ended) this.processUpTo(record, snap.processed);
      this.records.set(id, record);
      this.schedule(record);
    });
    return restored ?? 0;
  }

  create(
    body: Record<string, unknown>,
    opts: { version: string | undefined; droverKey: string | undefined; origin: string },
  ): MessageBatch {
    const list = body.requests;
    if (list === undefined) throw badRequest('requests: Field required');
    if (!Array.isArray(list)) throw badRequest('requests: Input should be a valid list');
    if (list.length === 0) throw badRequest('requests: List should have at least 1 item after validation, not 0');
    if (list.length > MAX_REQUESTS)
      throw badRequest(`requests: List should have at most ${MAX_REQUESTS} items after validation, not ${list.length}`);
    const requests = parseRequests(list, opts.version);

    const { faults, stats } = this.deps;
    const failInjected = faults.takeBatchFail();
    const record: BatchRecord = {
      id: newMessageBatchId(),
      version: opts.version,
      createdMs: Date.now(),
      processingMs: this.deps.processingMs(),
      status: 'in_progress',
      requests,
      total: requests.length,
      processed: 0,
      lines: [],
      counts: { succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      failInjected,
      expireAfterFraction: failInjected ? undefined : faults.takeBatchExpire(),
      cancelInitiatedMs: null,
      cancelDoneMs: 0,
      endedMs: null,
      results: null,
    };
    // On disk before it is anywhere else: a batch whose create was answered survives a kill.
    this.save(record, { requests: Buffer.from(JSON.stringify(list)) });
    this.records.set(record.id, record);
    stats.anthropic.batches_created++;
    stats.anthropic.requests_received += requests.length;
    countBatchKeys(stats, opts.droverKey);
    // The create response always shows `in_progress`; later reads move it on.
    const response = this.wire(record, opts.origin);
    this.schedule(record);
    return response;
  }

  retrieve(id: string, origin: string): MessageBatch {
    const record = this.require(id);
    this.advance(record, Date.now());
    return this.wire(record, origin);
  }

  /** Newest first, as the real API lists. */
  list(origin: string): MessageBatch[] {
    const now = Date.now();
    const all = [...this.records.values()].reverse();
    for (const record of all) this.advance(record, now);
    return all.map((r) => this.wire(r, origin));
  }

  cancel(id: string, origin: string): MessageBatch {
    const record = this.require(id);
    const now = Date.now();
    this.advance(record, now);
    if (record.status === 'ended') throw badRequest(`Batch ${id} has already ended and can no longer be canceled.`);
    if (record.status === 'in_progress') {
      record.status = 'canceling';
      record.cancelInitiatedMs = now;
      record.cancelDoneMs = now + Math.min(record.processingMs, MAX_CANCEL_DELAY_MS);
      this.save(record);
      this.deps.stats.anthropic.batch_cancels++;
      this.schedule(record);
    }
    return this.wire(record, origin);
  }

  delete(id: string): { id: string; type: 'message_batch_deleted' } {
    const record = this.require(id);
    this.advance(record, Date.now());
    if (record.status !== 'ended') {
      throw badRequest(`Batch ${id} cannot be deleted while it is ${record.status}; cancel it and wait for it to end first.`);
    }
    this.deps.persist?.delete(id);
    this.records.delete(id);
    this.timers.cancel(id);
    return { id, type: 'message_batch_deleted' };
  }

  results(id: string): Buffer {
    const record = this.require(id);
    this.advance(record, Date.now());
    if (!record.results)
      throw badRequest(`Batch ${id} has not finished processing (${record.status}); results are available once it has ended.`);
    return record.results;
  }

  /** Forgets the batches in memory; `StateDir.wipe()` forgets the kept ones. */
  clear(): void {
    this.timers.clear();
    this.records.clear();
  }

  private require(id: string): BatchRecord {
    const record = this.records.get(id);
    if (!record) throw notFound(`No message batch found with id '${id}'.`);
    return record;
  }

  private save(r: BatchRecord, blobs?: Record<string, Buffer>): void {
    const snap: AnthropicBatchSnapshot = {
      createdMs: r.createdMs,
      processingMs: r.processingMs,
      status: r.status,
      version: r.version ?? null,
      total: r.total,
      processed: r.processed,
      counts: r.counts,
      failInjected: r.failInjected,
      ...(r.expireAfterFraction !== undefined ? { expireAfterFraction: r.expireAfterFraction } : {}),
      cancelInitiatedMs: r.cancelInitiatedMs,
      cancelDoneMs: r.cancelDoneMs,
      endedMs: r.endedMs,
    };
    this.deps.persist?.put(r.id, snap, blobs);
  }

  private wire(r: BatchRecord, origin: string): MessageBatch {
    const ended = r.status === 'ended';
    return {
      id: r.id,
      type: 'message_batch',
      processing_status: r.status,
      request_counts: ended ? { processing: 0, ...r.counts } : { processing: r.total, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      created_at: rfc3339(r.createdMs),
      expires_at: rfc3339(r.createdMs + EXPIRES_AFTER_MS),
      ended_at: r.endedMs === null ? null : rfc3339(r.endedMs),
      cancel_initiated_at: r.cancelInitiatedMs === null ? null : rfc3339(r.cancelInitiatedMs),
      archived_at: null,
      results_url: ended ? `${origin}/v1/messages/batches/${r.id}/results` : null,
    };
  }

  private schedule(record: BatchRecord): void {
    this.timers.schedule(record.id, this.nextTransitionMs(record), () => {
      this.advance(record, Date.now());
      this.schedule(record);
    });
  }

  private nextTransitionMs(r: BatchRecord): number | undefined {
    if (r.status === 'canceling') return r.cancelDoneMs;
    if (r.status === 'ended') return undefined;
    return r.failInjected ? r.createdMs : r.createdMs + r.processingMs * (r.expireAfterFraction ?? 1);
  }

  /** Applies what is due at `now`; a no-op once ended. */
  private advance(r: BatchRecord, now: number): void {
    if (r.status === 'ended') return;
    if (r.status === 'canceling') {
      if (now >= r.cancelDoneMs) this.finish(r, r.cancelDoneMs);
      return;
    }
    if (r.failInjected) {
      this.failAll(r);
      this.finish(r, r.createdMs);
      return;
    }
    const expireAt = r.expireAfterFraction;
    const endAt = r.createdMs + r.processingMs * (expireAt ?? 1);
    if (now >= endAt) {
      this.processUpTo(r, expireAt === undefined ? r.total : Math.floor(r.total * expireAt));
      this.finish(r, endAt);
      return;
    }
    this.processUpTo(r, requestsDueAt(r.total, r.createdMs, r.processingMs, now));
  }

  private processUpTo(r: BatchRecord, k: number): void {
    const { faults } = this.deps;
    for (; r.processed < k; r.processed++) {
      const { custom_id, req, position } = r.requests[r.processed] as BatchRequest;
      const key = `${custom_id}\u0000${req.hash}`;
      const injected = faults.lineError(position, key);
      let result: MessageBatchIndividualResponse['result'];
      if (injected !== undefined) {
        result = { type: 'errored', error: anthropicErrorBody(faultError(injected), newRequestId()) as never };
        r.counts.errored++;
      } else {
        const malformed = req.mode === 'json_schema' && faults.malformedLine(position, key);
        result = {
          type: 'succeeded',
          message: generateMessage(req, { malformed, serviceTier: 'batch', promptCache: touchPrefix(this.deps.promptCache, req) }),
        };
        r.counts.succeeded++;
      }
      r.lines.push(JSON.stringify({ custom_id, result }));
    }
  }

  private failAll(r: BatchRecord): void {
    const err = new ApiError(500, 'Internal server error while processing this batch (emulated batch_fail).', 'api_error');
    for (; r.processed < r.total; r.processed++) {
      const { custom_id } = r.requests[r.processed] as BatchRequest;
      r.lines.push(JSON.stringify({ custom_id, result: { type: 'errored', error: anthropicErrorBody(err, newRequestId()) } }));
      r.counts.errored++;
    }
  }

  /** Unprocessed requests become `canceled` (after a cancel) or `expired`; then the results are written. */
  private finish(r: BatchRecord, atMs: number): void {
    const outcome = r.cancelInitiatedMs !== null ? 'canceled' : 'expired';
    for (const { custom_id } of r.requests.slice(r.processed)) {
      r.lines.push(JSON.stringify({ custom_id, result: { type: outcome } }));
      r.counts[outcome]++;
    }
    shuffleSeeded(r.lines, `${r.requests[0]?.custom_id ?? ''}:${r.total}`);
    // JSONL with one trailing newline and no blank lines: the SDK's decoder throws on a blank line.
    r.results = Buffer.from(`${r.lines.join('\n')}\n`);
    r.lines = [];
    r.requests = [];
    r.status = 'ended';
    r.endedMs = atMs;
    this.save(r, { results: r.results });
  }
}

/** Validates the requests of a batch (at create, and again when a kept batch is restored). */
function parseRequests(list: unknown[], version: string | undefined): BatchRequest[] {
  const seen = new Set<string>();
  return list.map((item: unknown, i): BatchRequest => {
    const r = item as Record<string, unknown>;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw badRequest(`requests.${i}: Input should be a valid dictionary`);
    if (typeof r.custom_id !== 'string' || !CUSTOM_ID.test(r.custom_id)) {
      throw badRequest(`requests.${i}.custom_id: String should match pattern '${CUSTOM_ID.source}'`);
    }
    if (seen.has(r.custom_id))
      throw badRequest(`requests.${i}.custom_id: duplicate custom_id '${r.custom_id}'; custom_id must be unique within a batch`);
    seen.add(r.custom_id);
    if (r.params === undefined) throw badRequest(`requests.${i}.params: Field required`);
    const req = parseMessageRequest(r.params, { version, where: `requests.${i}.params.`, batch: true });
    return { custom_id: r.custom_id, req, position: i + 1 };
  });
}

export function registerAnthropicBatchRoutes(router: Router, batches: AnthropicBatchStore, faults: FaultState): void {
  router
    .add('POST', '/v1/messages/batches', async (ctx) => {
      await faults.delayCreate();
      if (ctx.body.length > MAX_BATCH_BYTES) throw tooLarge(MAX_BATCH_BYTES);
      const opts = {
        version: headerValue(ctx.headers, 'anthropic-version'),
        droverKey: headerValue(ctx.headers, 'x-drover-key'),
        origin: ctx.origin,
      };
      return { json: batches.create(jsonBody(ctx, ANTHROPIC_UNPARSEABLE), opts) };
    })
    .add('GET', '/v1/messages/batches', (ctx) => {
      const raw = ctx.query.get('limit');
      const limit = raw === null || raw === '' ? 20 : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit: Input should be an integer between 1 and 1000');
      const { items, hasMore } = pageOf(
        batches.list(ctx.origin),
        (b) => b.id,
        { after: ctx.query.get('after_id'), before: ctx.query.get('before_id') },
        limit,
      );
      return { json: { data: items, has_more: hasMore, first_id: items[0]?.id ?? null, last_id: items[items.length - 1]?.id ?? null } };
    })
    .add('GET', '/v1/messages/batches/:id', (ctx) => ({ json: batches.retrieve(ctx.params.id as string, ctx.origin) }))
    .add('POST', '/v1/messages/batches/:id/cancel', (ctx) => ({ json: batches.cancel(ctx.params.id as string, ctx.origin) }))
    .add('DELETE', '/v1/messages/batches/:id', (ctx) => ({ json: batches.delete(ctx.params.id as string) }))
    .add('GET', '/v1/messages/batches/:id/results', (ctx) => ({
      raw: batches.results(ctx.params.id as string),
      contentType: 'application/binary',
    }));
}
