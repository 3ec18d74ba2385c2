/**
 * Gemini Batch Mode: `models/*:batchGenerateContent` with inline requests or an uploaded JSONL
 * file, and the batch as a long-running Operation. States `PENDING → RUNNING → SUCCEEDED` (or
 * `FAILED`, `CANCELLED`, `EXPIRED`) in `metadata.state` as `BATCH_STATE_*`; int64 counts in
 * `metadata.batchStats` are strings. Results go in `metadata.output` (which the SDK reads) and,
 * once done, also in the Operation's `response`:
 *   - inline input: `inlinedResponses.inlinedResponses[{response | error, metadata}]`, in input order;
 *   - file input: `responsesFile: 'files/batch-…'`, JSONL of `{key, response}` or `{key, error}`.
 * Per-request errors are `google.rpc.Status` objects (`{code, message}` with a gRPC code).
 *
 * Cancelling stops processing at once (there is no cancelling state) and keeps the results so far;
 * an expired batch likewise keeps what it processed. Requests that never ran have no entry.
 */
import { ApiError, faultError } from '../api-error.js';
import { requestsDueAt, shuffleSeeded, TransitionTimers } from '../batch-clock.js';
import type { FaultState } from '../faults.js';
import { newGeminiId, rfc3339 } from '../ids.js';
import { isObject, type Json } from '../json.js';
import { headerValue, jsonBody, type Router } from '../routing.js';
import { RecordDir } from '../state-dir.js';
import { countBatchKeys, type EmulatorStats } from '../stats.js';
import { generateContent, parseGenerateRequest, type GenerateRequest } from './content.js';
import { geminiError, rpcStatusBody } from './edge.js';
import type { GeminiFileStore } from './files.js';
import { GEMINI_UNPARSEABLE } from './generate.js';
import { tokenPage } from './paging.js';

const invalid = (message: string): ApiError => geminiError(400, message, 'INVALID_ARGUMENT');

/** Inline requests are limited to 20 MB in total. */
const MAX_INLINE_BYTES = 20 * 1024 * 1024;
const TYPE_PREFIX = 'type.googleapis.com/google.ai.generativelanguage';

type State = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'EXPIRED';
const TERMINAL: ReadonlySet<State> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED']);

interface BatchItem {
  /** 1-based, what `line_errors.every` counts. */
  position: number;
  /** Inline: the request's `metadata`; file: the line's `key`. */
  metadata: unknown;
  key: string | undefined;
  req?: GenerateRequest;
  /** A request that failed validation gets this as its result instead of a response. */
  invalid?: ApiError;
}

interface BatchRecord {
  id: string;
  model: string;
  displayName: string | undefined;
  inputFile: string | undefined;
  createdMs: number;
  updatedMs: number;
  endMs: number | null;
  pendingMs: number;
  processingMs: number;
  state: State;
  items: BatchItem[];
  total: number;
  processed: number;
  succeeded: number;
  failed: number;
  inlined: Json[];
  lines: string[];
  responsesFile: string | null;
  failInjected: boolean;
  expireAfterFraction: number | undefined;
  error: { code: number; message: string } | null;
}

/**
 * What is kept of a batch across restarts, written when it is created and when it ends (a cancel
 * ends it at once); the `input` blob holds its inline requests as sent, or its input file's bytes.
 * Progress in between is derived again from the clock: the answers depend only on the requests.
 */
export type GeminiBatchSnapshot = Omit<BatchRecord, 'items' | 'lines'>;

export interface GeminiBatchStoreDeps {
  files: GeminiFileStore;
  faults: FaultState;
  stats: EmulatorStats;
  /** Phase durations for a batch created now: PENDING lasts `validatingMs`, RUNNING `processingMs`. */
  timings: () => { validatingMs: number; processingMs: number };
  /** Where batches are kept across restarts (`stateDir`); none keeps them in memory only. */
  persist?: RecordDir<GeminiBatchSnapshot>;
}

export class GeminiBatchStore {
  /** Map iteration order is creation order, which listing relies on. */
  private readonly records = new Map<string, BatchRecord>();
  private readonly timers = new TransitionTimers();

  constructor(private readonly deps: GeminiBatchStoreDeps) {}

  /**
   * Loads the batches a previous process kept; returns how many. An unfinished one runs on by the
   * clock from where it would be, as if never interrupted.
   */
  restore(warn: (message: string) => void): number {
    return (
      this.deps.persist?.load(warn, ({ id, record: snap, blob }) => {
        const done = TERMINAL.has(snap.state);
        let items: BatchItem[] = [];
        if (!done) {
          const raw = RecordDir.need(blob('input'), 'input').toString('utf8');
          items =
            snap.inputFile === undefined ? this.inlineItems(JSON.parse(raw) as unknown[], snap.model) : this.fileItems(raw, snap.model);
        }
        // Answered again below, so counted again.
        const record: BatchRecord = done
          ? { ...snap, items, lines: [] }
          : { ...snap, items, lines: [], inlined: [], processed: 0, succeeded: 0, failed: 0 };
        if (!done) this.processUpTo(record, snap.processed);
        this.records.set(id, record);
        this.schedule(record);
      }) ?? 0
    );
  }

  create(model: string, body: Json, opts: { version: string; droverKey: string | undefined; bodyBytes: number }): Json {
    const batch = body.batch;
    if (!isObject(batch)) throw invalid('* BatchGenerateContentRequest.batch: batch is required\n');
    const input = batch.inputConfig ?? batch.input_config;
    if (!isObject(input)) throw invalid('* BatchGenerateContentRequest.batch.input_config: input_config is required\n');
    const requests = input.requests;
    const fileName = input.fileName ?? input.file_name;
    if ((requests === undefined) === (fileName === undefined)) {
      throw invalid('* BatchGenerateContentRequest.batch.input_config: exactly one of requests and file_name must be set\n');
    }
    const bareModel = model.replace(/^models\//, '');
    let items: BatchItem[];
    let inputBytes: Buffer;
    if (requests !== undefined) {
      if (opts.bodyBytes > MAX_INLINE_BYTES) throw invalid(`Request payload size exceeds the limit: ${MAX_INLINE_BYTES} bytes.`);
      const list = isObject(requests) ? requests.requests : requests;
      if (!Array.isArray(list) || list.length === 0)
        throw invalid('* BatchGenerateContentRequest.batch.input_config.requests.requests: must not be empty\n');
      items = this.inlineItems(list, bareModel);
      inputBytes = Buffer.from(JSON.stringify(list));
    } else {
      if (typeof fileName !== 'string' || !fileName.startsWith('files/'))
        throw invalid(`* BatchGenerateContentRequest.batch.input_config.file_name: '${String(fileName)}' is not a file name (files/ID).\n`);
      const file = this.deps.files.require(fileName.slice('files/'.length));
      items = this.fileItems(file.content.toString('utf8'), bareModel);
      if (items.length === 0) throw invalid(`The input file ${fileName} has no requests.`);
      inputBytes = file.content;
    }

    const { faults, stats } = this.deps;
    const failInjected = faults.takeBatchFail();
    const timings = this.deps.timings();
    const now = Date.now();
    const displayName = batch.displayName ?? batch.display_name;
    const record: BatchRecord = {
      id: newGeminiId(),
      model: bareModel,
      displayName: typeof displayName === 'string' ? displayName : undefined,
      inputFile: typeof fileName === 'string' ? fileName : undefined,
      createdMs: now,
      updatedMs: now,
      endMs: null,
      pendingMs: timings.validatingMs,
      processingMs: timings.processingMs,
      state: 'PENDING',
      items,
      total: items.length,
      processed: 0,
      succeeded: 0,
      failed: 0,
      inlined: [],
      lines: [],
      responsesFile: null,
      failInjected,
      expireAfterFraction: failInjected ? undefined : faults.takeBatchExpire(),
      error: null,
    };
    // On disk before it is anywhere else: a batch whose create was answered survives a kill.
    this.save(record, { input: inputBytes });
    this.records.set(record.id, record);
    stats.gemini.batches_created++;
    stats.gemini.requests_received += items.length;
    countBatchKeys(stats, opts.droverKey);
    // The create response always shows PENDING; later reads move it on.
    const response = this.operation(record, opts.version);
    this.schedule(record);
    return response;
  }

  get(id: string, version: string): Json {
    const record = this.require(id);
    this.advance(record, Date.now());
    return this.operation(record, version);
  }

  /** Newest first. */
  list(version: string): Json[] {
    const now = Date.now();
    const all = [...this.records.values()].reverse();
    for (const record of all) this.advance(record, now);
    return all.map((r) => this.operation(r, version));
  }

  /** A no-op for a batch that already finished. */
  cancel(id: string): void {
    const record = this.require(id);
    const now = Date.now();
    this.advance(record, now);
    if (TERMINAL.has(record.state)) return;
    // advance() has processed everything due by now; what is left never runs.
    this.finish(record, 'CANCELLED', now);
    this.deps.stats.gemini.batch_cancels++;
    this.timers.cancel(id);
  }

  /** Deleting only forgets the batch (as for any Operation); it does not cancel anything else. */
  delete(id: string): void {
    this.require(id);
    this.deps.persist?.delete(id);
    this.records.delete(id);
    this.timers.cancel(id);
  }

  /** Forgets the batches in memory; `StateDir.wipe()` forgets the kept ones. */
  clear(): void {
    this.timers.clear();
    this.records.clear();
  }

  private save(r: BatchRecord, blobs?: Record<string, Buffer>): void {
    const { items: _items, lines: _lines, ...snapshot } = r;
    this.deps.persist?.put(r.id, snapshot, blobs);
  }

  private inlineItems(list: unknown[], model: string): BatchItem[] {
    return list.map((entry, i) => {
      const e = isObject(entry) ? entry : {};
      const metadata = e.metadata;
      const key = isObject(metadata) && typeof metadata.key === 'string' ? metadata.key : undefined;
      return this.item(i + 1, metadata, key, e.request, model);
    });
  }

  /** One item per non-blank line of a JSONL input file; a line that is not JSON fails on its own. */
  private fileItems(text: string, model: string): BatchItem[] {
    const items: BatchItem[] = [];
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        items.push({
          position: items.length + 1,
          metadata: undefined,
          key: undefined,
          invalid: invalid('Invalid JSON in input file line.'),
        });
        continue;
      }
      const l = isObject(parsed) ? parsed : {};
      const key = typeof l.key === 'string' ? l.key : undefined;
      items.push(this.item(items.length + 1, undefined, key, l.request, model));
    }
    return items;
  }

  private item(position: number, metadata: unknown, key: string | undefined, request: unknown, model: string): BatchItem {
    try {
      return { position, metadata, key, req: parseGenerateRequest(request, model) };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return { position, metadata, key, invalid: err };
    }
  }

  private require(id: string): BatchRecord {
    const record = this.records.get(id);
    if (!record) throw geminiError(404, `Batch batches/${id} not found.`, 'NOT_FOUND');
    return record;
  }

  private output(r: BatchRecord): Json | undefined {
    if (!TERMINAL.has(r.state) || r.state === 'FAILED') return undefined;
    if (r.responsesFile !== null) return { responsesFile: r.responsesFile };
    return r.inputFile === undefined ? { inlinedResponses: { inlinedResponses: r.inlined } } : undefined;
  }

  private operation(r: BatchRecord, version: string): Json {
    // The `@type` names the API surface: `v1main` for v1, otherwise the version itself.
    const surface = version === 'v1' ? 'v1main' : version;
    const output = this.output(r);
    const done = TERMINAL.has(r.state);
    return {
      name: `batches/${r.id}`,
      metadata: {
        '@type': `${TYPE_PREFIX}.${surface}.GenerateContentBatch`,
        name: `batches/${r.id}`,
        model: `models/${r.model}`,
        ...(r.displayName !== undefined ? { displayName: r.displayName } : {}),
        ...(r.inputFile !== undefined ? { inputConfig: { fileName: r.inputFile } } : {}),
        ...(output ? { output } : {}),
        createTime: rfc3339(r.createdMs),
        updateTime: rfc3339(r.updatedMs),
        ...(r.endMs !== null ? { endTime: rfc3339(r.endMs) } : {}),
        batchStats: {
          requestCount: String(r.total),
          successfulRequestCount: String(r.succeeded),
          failedRequestCount: String(r.failed),
          pendingRequestCount: String(r.total - r.succeeded - r.failed),
        },
        state: `BATCH_STATE_${r.state}`,
      },
      ...(done ? { done: true } : {}),
      ...(output ? { response: { '@type': `${TYPE_PREFIX}.${surface}.GenerateContentBatchOutput`, ...output } } : {}),
      ...(r.error ? { error: r.error } : {}),
    };
  }

  private schedule(record: BatchRecord): void {
    this.timers.schedule(record.id, this.nextTransitionMs(record), () => {
      this.advance(record, Date.now());
      this.schedule(record);
    });
  }

  private nextTransitionMs(r: BatchRecord): number | undefined {
    const start = r.createdMs + r.pendingMs;
    if (r.state === 'PENDING') return start;
    if (r.state === 'RUNNING') return start + r.processingMs * (r.expireAfterFraction ?? 1);
    return undefined;
  }

  /** Applies every transition that is due at `now`; a no-op for finished batches. */
  private advance(r: BatchRecord, now: number): void {
    const start = r.createdMs + r.pendingMs;
    if (r.state === 'PENDING') {
      if (now < start) return;
      if (r.failInjected) {
        r.error = rpcStatusBody(
          geminiError(
            429,
            'The batch could not be started: enqueued token limit exceeded for this model (emulated batch_fail).',
            'RESOURCE_EXHAUSTED',
          ),
        );
        this.finish(r, 'FAILED', start);
        return;
      }
      r.state = 'RUNNING';
      r.updatedMs = start;
    }
    if (r.state !== 'RUNNING') return;
    const expireAt = r.expireAfterFraction;
    const endAt = start + r.processingMs * (expireAt ?? 1);
    if (now >= endAt) {
      this.processUpTo(r, expireAt === undefined ? r.total : Math.floor(r.total * expireAt));
      this.finish(r, expireAt === undefined ? 'SUCCEEDED' : 'EXPIRED', endAt);
      return;
    }
    const before = r.processed;
    this.processUpTo(r, requestsDueAt(r.total, start, r.processingMs, now));
    if (r.processed !== before) r.updatedMs = now;
  }

  private processUpTo(r: BatchRecord, k: number): void {
    const { faults } = this.deps;
    for (; r.processed < k; r.processed++) {
      const item = r.items[r.processed] as BatchItem;
      let failure = item.invalid;
      let response: unknown;
      if (!failure && item.req) {
        const onceKey = `${item.key ?? item.position}\u0000${item.req.hash}`;
        const injected = faults.lineError(item.position, onceKey);
        if (injected !== undefined) failure = faultError(injected);
        else response = generateContent(item.req, { malformed: item.req.mode === 'json' && faults.malformedLine(item.position, onceKey) });
      }
      if (failure) r.failed++;
      else r.succeeded++;
      const result = failure ? { error: rpcStatusBody(failure) } : { response };
      if (r.inputFile === undefined) r.inlined.push({ ...result, ...(item.metadata !== undefined ? { metadata: item.metadata } : {}) });
      else r.lines.push(JSON.stringify({ ...(item.key !== undefined ? { key: item.key } : {}), ...result }));
    }
  }

  /** Ends the batch; for file input, writes the responses file (out of input order, as no order is promised). */
  private finish(r: BatchRecord, state: State, atMs: number): void {
    if (r.inputFile !== undefined && state !== 'FAILED') {
      shuffleSeeded(r.lines, `${r.id}:${r.total}`);
      const file = this.deps.files.add(Buffer.from(r.lines.length > 0 ? `${r.lines.join('\n')}\n` : ''), {
        id: `batch-${r.id}`,
        displayName: `batch-${r.id}-responses`,
        mimeType: 'application/jsonl',
        source: 'GENERATED',
      });
      r.responsesFile = `files/${file.id}`;
    }
    r.lines = [];
    r.items = [];
    r.state = state;
    r.endMs = atMs;
    r.updatedMs = atMs;
    this.save(r);
  }
}

export function registerGeminiBatchRoutes(router: Router, batches: GeminiBatchStore, faults: FaultState): void {
  const version = (params: Record<string, string>): string => params.version as string;
  router
    .add('POST', '/:version/models/:model:batchGenerateContent', async (ctx) => {
      await faults.delayCreate();
      return {
        json: batches.create(ctx.params.model as string, jsonBody(ctx, GEMINI_UNPARSEABLE), {
          version: version(ctx.params),
          droverKey: headerValue(ctx.headers, 'x-drover-key'),
          bodyBytes: ctx.body.length,
        }),
      };
    })
    .add('GET', '/:version/batches', (ctx) => {
      const { items, nextPageToken } = tokenPage(batches.list(version(ctx.params)), (op) => String(op.name), ctx.query, 50, 1000);
      return { json: { operations: items, ...(nextPageToken !== undefined ? { nextPageToken } : {}) } };
    })
    .add('POST', '/:version/batches/:id:cancel', (ctx) => {
      batches.cancel(ctx.params.id as string);
      return { json: {} };
    })
    .add('DELETE', '/:version/batches/:id:delete', (ctx) => {
      batches.delete(ctx.params.id as string);
      return { json: {} };
    })
    .add('GET', '/:version/batches/:id', (ctx) => ({ json: batches.get(ctx.params.id as string, version(ctx.params)) }))
    .add('DELETE', '/:version/batches/:id', (ctx) => {
      batches.delete(ctx.params.id as string);
      return { json: {} };
    });
}
