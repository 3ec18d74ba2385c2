/**
 * `/v1/batches`: creation, the status lifecycle, cancellation and result files.
 *
 * Status is derived from the clock: each batch records when it was created and how long each
 * phase lasts, and `advance()` moves it forward whenever it is read (plus a timer per batch so
 * nothing waits on a poll to finish). Lines are processed in input order; the share of lines
 * processed follows the share of `processingMs` elapsed, so a cancel or expiry part-way through
 * leaves partial results, as with the real API.
 */
import type { BatchError } from 'openai/resources/batches';
import { ApiError, badRequest, faultError, notFound } from '../api-error.js';
import { MAX_CANCEL_DELAY_MS, shuffleSeeded, TransitionTimers } from '../batch-clock.js';
import type { FaultState } from '../faults.js';
import { hashBody, newBatchId, newBatchRequestId, newRequestId, nowSeconds } from '../ids.js';
import { headerValue, jsonBody, type Router } from '../routing.js';
import { RecordDir } from '../state-dir.js';
import { countBatchKeys, type EmulatorStats } from '../stats.js';
import { parseBatchInput, type BatchInput, type BatchInputLine } from './batch-input.js';
import { generateChatCompletion, openaiCachedTokens, parseChatRequest } from './completion.js';
import type { PromptCache } from '../prompt-cache.js';
import type { FileStore } from './files.js';
import { cursorPage, limitParam } from './paging.js';
import type { WireBatch } from './wire-types.js';

const CHAT_ENDPOINT = '/v1/chat/completions';
const OPENAI_BATCH_ENDPOINTS = [
  '/v1/responses',
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/completions',
  '/v1/moderations',
  '/v1/images/generations',
  '/v1/images/edits',
  '/v1/videos',
];
const COMPLETION_WINDOW_S = 24 * 3600;

export interface BatchTimings {
  validatingMs: number;
  processingMs: number;
  finalizingMs: number;
}

interface BatchRecord {
  wire: WireBatch;
  input: BatchInput;
  lines: BatchInputLine[];
  createdMs: number;
  timings: BatchTimings;
  failInjected: boolean;
  expireAfterFraction: number | undefined;
  outputTtlS: number | undefined;
  processed: number;
  outputLines: string[];
  errorLines: string[];
  cancelDoneMs: number;
}

/**
 * What is kept of a batch across restarts, written when it is created, cancelled and ended, with
 * its input file's content as the `input` blob. Whatever the clock decides in between (progress,
 * counts, answers) is derived again: the answers depend only on the input lines.
 */
export interface BatchSnapshot {
  wire: WireBatch;
  createdMs: number;
  timings: BatchTimings;
  failInjected: boolean;
  expireAfterFraction?: number;
  outputTtlS?: number;
  /** Lines answered when it was saved: what a cancel leaves answered. */
  processed: number;
  cancelDoneMs: number;
}

export interface BatchStoreDeps {
  files: FileStore;
  faults: FaultState;
  stats: EmulatorStats;
  /** Phase durations for a batch created now (options, possibly overridden by a fault). */
  timings: () => BatchTimings;
  /** Where batches are kept across restarts (`stateDir`); none keeps them in memory only. */
  persist?: RecordDir<BatchSnapshot>;
  /** Prefixes seen before are cached prompt tokens, in batches as in chat completions. */
  promptCache?: PromptCache;
}

const TERMINAL_STATUSES: ReadonlySet<WireBatch['status']> = new Set(['completed', 'failed', 'expired', 'cancelled']);

export class BatchStore {
  /** Map iteration order is creation order, which listing relies on. */
  private readonly records = new Map<string, BatchRecord>();
  private readonly timers = new TransitionTimers();

  constructor(private readonly deps: BatchStoreDeps) {}

  /**
   * Loads the batches a previous process kept; returns how many. An unfinished one answers again
   * the lines it had answered when saved and then runs on by the clock, as if never interrupted.
   */
  restore(warn: (message: string) => void): number {
    const restored = this.deps.persist?.load(warn, ({ id, record: snap, blob }) => {
      const done = TERMINAL_STATUSES.has(snap.wire.status);
      const raw = done ? undefined : RecordDir.need(blob('input'), 'input');
      const input: BatchInput = raw ? parseBatchInput(raw.toString('utf8'), snap.wire.endpoint) : { ok: true, lines: [], model: null };
      const wire = snap.wire;
      if (!done) {
        // Answered again below, so counted again.
        if (wire.request_counts) wire.request_counts = { ...wire.request_counts, completed: 0, failed: 0 };
        wire.usage = emptyUsage();
      }
      const record: BatchRecord = {
        wire,
        input,
        lines: input.ok ? input.lines : [],
        createdMs: snap.createdMs,
        timings: snap.timings,
        failInjected: snap.failInjected,
        expireAfterFraction: snap.expireAfterFraction,
        outputTtlS: snap.outputTtlS,
        processed: 0,
        outputLines: [],
        errorLines: [],
        cancelDoneMs: snap.cancelDoneMs,
      };
      if (!done) this.processUpTo(record, snap.processed);
      this.records.set(id, record);
      this.schedule(record);
    });
    return restored ?? 0;
  }

  /** `droverKey` is the `x-drover-key` request header, if any. */
  create(body: Record<string, unknown>, droverKey?: string): WireBatch {
    const { input_file_id: fileId, endpoint, completion_window: window } = body;
    if (typeof fileId !== 'string' || fileId === '') {
      throw badRequest("Missing required parameter: 'input_file_id'.", 'input_file_id', 'missing_required_parameter');
    }
    if (typeof endpoint !== 'string') throw badRequest("Missing required parameter: 'endpoint'.", 'endpoint', 'missing_required_parameter');
    if (!OPENAI_BATCH_ENDPOINTS.includes(endpoint)) {
      throw badRequest(
        `Invalid value: '${endpoint}'. Supported values are: ${OPENAI_BATCH_ENDPOINTS.map((e) => `'${e}'`).join(', ')}.`,
        'endpoint',
        'invalid_value',
      );
    }
    if (endpoint !== CHAT_ENDPOINT) {
      throw badRequest(`The Drover emulator only emulates '${CHAT_ENDPOINT}' batches, not '${endpoint}'.`, 'endpoint', 'unsupported_value');
    }
    if (window !== '24h') {
      throw badRequest(`Invalid value: '${String(window)}'. Supported values are: '24h'.`, 'completion_window', 'invalid_value');
    }
    const metadata = parseMetadata(body.metadata);
    const outputTtlS = parseOutputExpiresAfter(body.output_expires_after);
    const file = this.deps.files.get(fileId);
    if (!file) throw notFound(`No such File object: ${fileId}`, 'input_file_id');
    if (file.object.purpose !== 'batch') {
      throw badRequest(
        `The input file must have purpose 'batch', but ${fileId} has purpose '${file.object.purpose}'.`,
        'input_file_id',
        'invalid_value',
      );
    }

    const input = parseBatchInput(file.content.toString('utf8'), endpoint);
    const { faults, stats } = this.deps;
    const failInjected = faults.takeBatchFail();
    const expireAfterFraction = failInjected ? undefined : faults.takeBatchExpire();
    const createdMs = Date.now();
    const created = nowSeconds(createdMs);
    const wire: WireBatch = {
      id: newBatchId(),
      object: 'batch',
      endpoint,
      errors: null,
      input_file_id: fileId,
      completion_window: '24h',
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: created,
      in_progress_at: null,
      expires_at: created + COMPLETION_WINDOW_S,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata,
      model: null,
      usage: emptyUsage(),
    };
    const record: BatchRecord = {
      wire,
      input,
      lines: input.ok ? input.lines : [],
      createdMs,
      timings: this.deps.timings(),
      failInjected,
      expireAfterFraction,
      outputTtlS,
      processed: 0,
      outputLines: [],
      errorLines: [],
      cancelDoneMs: 0,
    };
    // On disk before it is anywhere else: a batch whose create was answered survives a kill.
    this.save(record, { input: file.content });
    this.records.set(wire.id, record);

    stats.batches_created++;
    stats.lines_received += input.ok ? input.lines.length : input.lineCount;
    const key = metadata?.drover_key;
    if (key !== undefined) stats.batches_by_metadata[key] = (stats.batches_by_metadata[key] ?? 0) + 1;
    countBatchKeys(stats, droverKey, key);

    // The create response always shows `validating`, like the real API; later reads move it on.
    const response = structuredClone(wire);
    this.schedule(record);
    return response;
  }

  retrieve(id: string): WireBatch {
    const record = this.require(id);
    this.advance(record, Date.now());
    return record.wire;
  }

  /** Newest first, as the real API lists. */
  list(): WireBatch[] {
    const now = Date.now();
    const all = [...this.records.values()];
    for (const record of all) this.advance(record, now);
    return all.reverse().map((r) => r.wire);
  }

  cancel(id: string): WireBatch {
    const record = this.require(id);
    const now = Date.now();
    this.advance(record, now);
    const w = record.wire;
    if (w.status === 'cancelling' || w.status === 'cancelled') return w;
    if (w.status !== 'validating' && w.status !== 'in_progress') {
      throw badRequest(`Cannot cancel a batch with status '${w.status}'.`, null, 'batch_not_cancellable');
    }
    if (w.status === 'validating' && w.request_counts) w.request_counts.total = record.lines.length;
    w.status = 'cancelling';
    w.cancelling_at = nowSeconds(now);
    record.cancelDoneMs = now + Math.min(record.timings.processingMs, MAX_CANCEL_DELAY_MS);
    this.save(record);
    this.deps.stats.batch_cancels++;
    const response = structuredClone(w);
    this.schedule(record);
    return response;
  }

  /** Forgets the batches in memory; `StateDir.wipe()` forgets the kept ones. */
  clear(): void {
    this.timers.clear();
    this.records.clear();
  }

  private require(id: string): BatchRecord {
    const record = this.records.get(id);
    if (!record) throw notFound(`No such Batch object: ${id}`, 'batch_id');
    return record;
  }

  private save(r: BatchRecord, blobs?: Record<string, Buffer>): void {
    const snap: BatchSnapshot = {
      wire: r.wire,
      createdMs: r.createdMs,
      timings: r.timings,
      failInjected: r.failInjected,
      ...(r.expireAfterFraction !== undefined ? { expireAfterFraction: r.expireAfterFraction } : {}),
      ...(r.outputTtlS !== undefined ? { outputTtlS: r.outputTtlS } : {}),
      processed: r.processed,
      cancelDoneMs: r.cancelDoneMs,
    };
    this.deps.persist?.put(r.wire.id, snap, blobs);
  }

  private schedule(record: BatchRecord): void {
    this.timers.schedule(record.wire.id, this.nextTransitionMs(record), () => {
      this.advance(record, Date.now());
      this.schedule(record);
    });
  }

  private nextTransitionMs(record: BatchRecord): number | undefined {
    const { validatingMs, processingMs, finalizingMs } = record.timings;
    const start = record.createdMs + validatingMs;
    switch (record.wire.status) {
      case 'validating':
        return start;
      case 'in_progress':
        return start + processingMs * (record.expireAfterFraction ?? 1);
      case 'finalizing':
        return start + processingMs + finalizingMs;
      case 'cancelling':
        return record.cancelDoneMs;
      default:
        return undefined;
    }
  }

  /** Applies every transition that is due at `now`; a no-op for terminal batches. */
  private advance(record: BatchRecord, now: number): void {
    for (let status = record.wire.status; ; status = record.wire.status) {
      this.step(record, now);
      if (record.wire.status === status) return;
    }
  }

  private step(record: BatchRecord, now: number): void {
    const w = record.wire;
    const { validatingMs, processingMs, finalizingMs } = record.timings;
    const start = record.createdMs + validatingMs;
    switch (w.status) {
      case 'validating': {
        if (now < start) return;
        if (record.failInjected) {
          const model = record.input.ok ? (record.input.model ?? 'the requested model') : 'the requested model';
          this.fail(record, start, [
            {
              code: 'token_limit_exceeded',
              message: `Enqueued token limit reached for ${model} in organization org-emulator. Please try again once some in_progress batches have been completed. (emulated fault)`,
              param: null,
              line: null,
            },
          ]);
          return;
        }
        if (!record.input.ok) {
          this.fail(record, start, record.input.errors);
          return;
        }
        w.status = 'in_progress';
        w.in_progress_at = nowSeconds(start);
        w.model = record.input.model;
        if (w.request_counts) w.request_counts.total = record.lines.length;
        return;
      }
      case 'in_progress': {
        const n = record.lines.length;
        const fraction = processingMs === 0 ? 1 : Math.min(1, (now - start) / processingMs);
        const expireAt = record.expireAfterFraction;
        if (expireAt !== undefined && fraction >= expireAt) {
          this.processUpTo(record, Math.floor(n * expireAt));
          this.finish(record, 'expired', start + processingMs * expireAt);
          return;
        }
        this.processUpTo(record, Math.floor(n * fraction));
        if (fraction >= 1) {
          w.status = 'finalizing';
          w.finalizing_at = nowSeconds(start + processingMs);
        }
        return;
      }
      case 'finalizing': {
        const done = start + processingMs + finalizingMs;
        if (now >= done) this.finish(record, 'completed', done);
        return;
      }
      case 'cancelling':
        if (now >= record.cancelDoneMs) this.finish(record, 'cancelled', record.cancelDoneMs);
        return;
      default:
        return;
    }
  }

  private fail(record: BatchRecord, atMs: number, errors: Array<Required<BatchError>>): void {
    record.wire.status = 'failed';
    record.wire.failed_at = nowSeconds(atMs);
    record.wire.errors = { object: 'list', data: errors };
    this.save(record);
  }

  /** Runs the emulated model over lines [processed, k). */
  private processUpTo(record: BatchRecord, k: number): void {
    const { faults } = this.deps;
    const counts = record.wire.request_counts;
    const usage = record.wire.usage;
    for (; record.processed < k; record.processed++) {
      const line = record.lines[record.processed] as BatchInputLine;
      const bodyHash = hashBody(line.body);
      const key = `${line.custom_id}\u0000${bodyHash}`;
      let failure: ApiError | undefined;
      let body: unknown;
      const injected = faults.lineError(line.position, key);
      if (injected !== undefined) {
        failure = faultError(injected);
      } else {
        try {
          const req = parseChatRequest(line.body, bodyHash);
          const malformed = req.mode !== 'text' && faults.malformedLine(line.position, key);
          const completion = generateChatCompletion(req, { malformed, cachedTokens: openaiCachedTokens(req, this.deps.promptCache) });
          body = completion;
          if (usage && completion.usage) {
            usage.input_tokens += completion.usage.prompt_tokens;
            usage.output_tokens += completion.usage.completion_tokens;
            usage.total_tokens += completion.usage.total_tokens;
          }
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          failure = err;
        }
      }
      const response = failure
        ? { status_code: failure.status, request_id: newRequestId(), body: { error: failure.toObject() } }
        : { status_code: 200, request_id: newRequestId(), body };
      const text = JSON.stringify({ id: newBatchRequestId(), custom_id: line.custom_id, response, error: null });
      if (failure) {
        record.errorLines.push(text);
        if (counts) counts.failed++;
      } else {
        record.outputLines.push(text);
        if (counts) counts.completed++;
      }
    }
  }

  /** Ends the batch: unprocessed lines become `batch_expired`/`batch_cancelled` errors, then the result files are written. */
  private finish(record: BatchRecord, status: 'completed' | 'expired' | 'cancelled', atMs: number): void {
    const w = record.wire;
    if (status !== 'completed') {
      const code = status === 'expired' ? 'batch_expired' : 'batch_cancelled';
      const message =
        status === 'expired'
          ? 'This request could not be executed before the completion window expired.'
          : 'This request was not executed because the batch was cancelled.';
      for (const line of record.lines.slice(record.processed)) {
        record.errorLines.push(
          JSON.stringify({ id: newBatchRequestId(), custom_id: line.custom_id, response: null, error: { code, message } }),
        );
      }
    }
    w.output_file_id = this.writeResultFile(record, record.outputLines, 'output');
    w.error_file_id = this.writeResultFile(record, record.errorLines, 'error');
    record.outputLines = [];
    record.errorLines = [];
    w.status = status;
    const at = nowSeconds(atMs);
    if (status === 'completed') w.completed_at = at;
    else if (status === 'expired') w.expired_at = at;
    else w.cancelled_at = at;
    this.save(record);
  }

  /** Null when there is nothing to write, as the real API leaves the id unset. */
  private writeResultFile(record: BatchRecord, lines: string[], kind: 'output' | 'error'): string | null {
    if (lines.length === 0) return null;
    shuffleSeeded(lines, `${record.lines[0]?.custom_id ?? ''}:${record.lines.length}:${kind}`);
    const content = Buffer.from(`${lines.join('\n')}\n`);
    return this.deps.files.add(content, `${record.wire.id}_${kind}.jsonl`, 'batch_output', record.outputTtlS).id;
  }
}

function emptyUsage(): NonNullable<WireBatch['usage']> {
  return {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
}

function parseMetadata(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value))
    throw badRequest("Invalid type for 'metadata': expected an object.", 'metadata', 'invalid_type');
  const entries = Object.entries(value);
  if (entries.length > 16) throw badRequest("Invalid 'metadata': too many properties. Expected at most 16.", 'metadata', 'invalid_value');
  for (const [key, v] of entries) {
    if (key.length > 64)
      throw badRequest(`Invalid 'metadata': key '${key.slice(0, 16)}…' is longer than 64 characters.`, 'metadata', 'invalid_value');
    if (typeof v !== 'string')
      throw badRequest(`Invalid type for 'metadata.${key}': expected a string.`, `metadata.${key}`, 'invalid_type');
    if (v.length > 512) throw badRequest(`Invalid 'metadata.${key}': longer than 512 characters.`, `metadata.${key}`, 'invalid_value');
  }
  return { ...(value as Record<string, string>) };
}

function parseOutputExpiresAfter(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (
    typeof value !== 'object' ||
    v.anchor !== 'created_at' ||
    !Number.isInteger(v.seconds) ||
    (v.seconds as number) < 3600 ||
    (v.seconds as number) > 2_592_000
  ) {
    throw badRequest(
      "Invalid 'output_expires_after': expected {anchor: 'created_at', seconds: 3600..2592000}.",
      'output_expires_after',
      'invalid_value',
    );
  }
  return v.seconds as number;
}

export function registerBatchRoutes(router: Router, batches: BatchStore, faults: FaultState): void {
  router
    .add('POST', '/v1/batches', async (ctx) => {
      await faults.delayCreate();
      return { json: batches.create(jsonBody(ctx), headerValue(ctx.headers, 'x-drover-key')) };
    })
    .add('GET', '/v1/batches', (ctx) => ({
      json: cursorPage(batches.list(), ctx.query.get('after'), limitParam(ctx.query, 20, 100)),
    }))
    .add('GET', '/v1/batches/:id', (ctx) => ({ json: batches.retrieve(ctx.params.id as string) }))
    .add('POST', '/v1/batches/:id/cancel', (ctx) => ({ json: batches.cancel(ctx.params.id as string) }));
}
