import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { z } from 'zod';
import { DroverResponseError, WaitTimeoutError } from './errors.js';
import { Files, validateBatch } from './completions.js';
import { parseValue, sleep, type QueryValue, type Transport } from './http.js';
import {
  BatchEstimate,
  BatchList,
  BatchView,
  ResultPage,
  ResultView,
  isTerminal,
  type FileView,
  type ValidationResponse,
} from './schemas.js';
import { ndjsonBody, splitLines } from './streams.js';
import { withSchema, type SchemaOptions, type StructuredOutput, type TypedResult } from './structured.js';
import type {
  BatchCreateParams,
  BatchSettingsInput,
  DownloadParams,
  DownloadResult,
  ItemInput,
  ItemsOrFile,
  IterOutputParams,
  LimitsParams,
  ListParams,
  OutputParams,
  RerunParams,
  RequestOptions,
  WaitOptions,
} from './types.js';

const DEFAULT_POLL_MS = 2000;

const batchPath = (id: string) => `/v1/batches/${encodeURIComponent(id)}`;

/**
 * Submits are made safe to retry: a body without an `idempotency_key` gets a random one, so a
 * retry after a lost answer returns the batch the first try created instead of a second batch.
 * Give your own key to make a submit safe across process restarts too.
 */
function withIdempotencyKey<T extends { idempotency_key?: string | undefined }>(body: T): T {
  return body.idempotency_key === undefined ? { ...body, idempotency_key: `drover-client-${randomUUID()}` } : body;
}

function refuseDryRun(body: object): void {
  if ((body as { dry_run?: unknown }).dry_run !== undefined) {
    throw new TypeError('dry_run is not accepted by submit: call batches.estimate() (or estimateNdjson()) for a dry run');
  }
}

/** NDJSON settings as the query string the API reads: JSON-valued ones as JSON text. */
function settingsQuery(settings: BatchSettingsInput): Record<string, QueryValue> {
  const q: Record<string, QueryValue> = {};
  for (const [k, v] of Object.entries(settings)) {
    if (v === undefined) continue;
    q[k] = typeof v === 'object' && v !== null ? JSON.stringify(v) : (v as QueryValue);
  }
  return q;
}

type TypedOptions = WaitOptions & SchemaOptions;

export interface TypedBatch<T> {
  batch: BatchView;
  rows: Array<TypedResult<T>>;
}

/** `client.batches`: everything under `/v1/batches`. */
export class Batches {
  constructor(private readonly t: Transport) {}

  /**
   * `POST /v1/batches` (JSON). Answers with the batch (202, or 200 when `idempotency_key` names
   * one that exists). Without an `idempotency_key` the client adds a random one so its retries
   * never create a second batch.
   */
  async submit(body: BatchCreateParams, opts: RequestOptions = {}): Promise<BatchView> {
    refuseDryRun(body);
    return this.t.json({ method: 'POST', path: '/v1/batches', json: withIdempotencyKey(body), signal: opts.signal }, BatchView);
  }

  /**
   * `POST /v1/batches` as NDJSON: the settings go in the query string, the items are streamed one
   * per line as `items` yields them (never held whole). An idempotency key is added as for
   * `submit`. Only an array of items can be sent again, so only then is the call retried; with
   * an iterator, a failure is thrown to the caller (retry with the same `idempotency_key`).
   */
  async submitNdjson(
    settings: BatchSettingsInput,
    items: AsyncIterable<ItemInput> | Iterable<ItemInput>,
    opts: RequestOptions = {},
  ): Promise<BatchView> {
    refuseDryRun(settings);
    return this.t.json(
      {
        method: 'POST',
        path: '/v1/batches',
        query: settingsQuery(withIdempotencyKey(settings)),
        body: () => ndjsonBody(items),
        replayable: Array.isArray(items),
        signal: opts.signal,
      },
      BatchView,
    );
  }

  /** `POST /v1/batches/estimate`: validates, plans and prices the batch; stores nothing. */
  estimate(body: BatchCreateParams, opts: RequestOptions = {}): Promise<BatchEstimate> {
    return this.t.json({ method: 'POST', path: '/v1/batches/estimate', json: body, signal: opts.signal }, BatchEstimate);
  }

  /** The NDJSON form of `estimate`. */
  estimateNdjson(
    settings: BatchSettingsInput,
    items: AsyncIterable<ItemInput> | Iterable<ItemInput>,
    opts: RequestOptions = {},
  ): Promise<BatchEstimate> {
    return this.t.json(
      {
        method: 'POST',
        path: '/v1/batches/estimate',
        query: settingsQuery(settings),
        body: () => ndjsonBody(items),
        replayable: Array.isArray(items),
        signal: opts.signal,
      },
      BatchEstimate,
    );
  }

  /** `POST /v1/files`: a JSONL or CSV file for `input_file_id`, streamed from disk; the same as `client.files.upload`. */
  uploadFile(params: Parameters<Files['upload']>[0]): Promise<FileView> {
    return new Files(this.t).upload(params);
  }

  /** `POST /v1/batches/validate`: every problem of a body (or of its `input_file_id`), with its path or line; nothing is created. */
  validate(body: Record<string, unknown> | BatchCreateParams, opts: RequestOptions = {}): Promise<ValidationResponse> {
    return validateBatch(this.t, body as Record<string, unknown>, opts.signal);
  }

  /** `GET /v1/batches/:id`: live figures while it runs, final ones after. */
  retrieve(id: string, opts: RequestOptions = {}): Promise<BatchView> {
    return this.t.json({ method: 'GET', path: batchPath(id), signal: opts.signal }, BatchView);
  }

  /** `GET /v1/batches/:id/items/:item_id`: one item's state and result. */
  retrieveItem(id: string, itemId: string, opts: RequestOptions = {}): Promise<ResultView> {
    return this.t.json({ method: 'GET', path: `${batchPath(id)}/items/${encodeURIComponent(itemId)}`, signal: opts.signal }, ResultView);
  }

  /** `GET /v1/batches`: one page, newest first; pass `next_cursor` back as `cursor`. */
  list(params: ListParams = {}): Promise<BatchList> {
    const { signal, created_after, ...rest } = params;
    const query = { ...rest, created_after: created_after instanceof Date ? created_after.toISOString() : created_after };
    return this.t.json({ method: 'GET', path: '/v1/batches', query, signal }, BatchList);
  }

  /** Every batch matching the filters, following `next_cursor` page after page. */
  async *listAll(params: Omit<ListParams, 'cursor'> = {}): AsyncGenerator<BatchView> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...params, cursor });
      yield* page.data;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  /** `POST /v1/batches/:id/cancel`: running provider batches are cancelled, finished results kept. 409 once ended. */
  cancel(id: string, opts: RequestOptions = {}): Promise<BatchView> {
    return this.t.json({ method: 'POST', path: `${batchPath(id)}/cancel`, signal: opts.signal }, BatchView);
  }

  /** `POST /v1/batches/:id/pause`: no new chunk starts; running ones finish. */
  pause(id: string, opts: RequestOptions = {}): Promise<BatchView> {
    return this.t.json({ method: 'POST', path: `${batchPath(id)}/pause`, signal: opts.signal }, BatchView);
  }

  /** `POST /v1/batches/:id/resume`. */
  resume(id: string, opts: RequestOptions = {}): Promise<BatchView> {
    return this.t.json({ method: 'POST', path: `${batchPath(id)}/resume`, signal: opts.signal }, BatchView);
  }

  /**
   * `POST /v1/batches/:id/rerun`: a new batch of the ended batch's failed items (or those of
   * `status`), with its settings unless `params` gives others. The new batch's `rerun_of` names
   * the old; the old one's `reruns` lists it. A batch still running is a 409 (`batch_not_ended`),
   * as is one without such items (`nothing_to_rerun`).
   */
  rerun(id: string, params: RerunParams = {}, opts: RequestOptions = {}): Promise<BatchView> {
    return this.t.json({ method: 'POST', path: `${batchPath(id)}/rerun`, json: params, signal: opts.signal }, BatchView);
  }

  /**
   * `PATCH /v1/batches/:id/limits`. `null` removes a limit. A limit below the spend, or a deadline
   * in the past, is refused (ValidationError, type `invalid_limits`); raising the limit of a batch
   * in `awaiting_budget` resumes it.
   */
  setLimits(id: string, limits: LimitsParams, opts: RequestOptions = {}): Promise<BatchView> {
    const body: Record<string, unknown> = {};
    if (limits.max_cost_usd !== undefined) body.max_cost_usd = limits.max_cost_usd;
    if (limits.deadline !== undefined) body.deadline = limits.deadline instanceof Date ? limits.deadline.toISOString() : limits.deadline;
    if (limits.time_limit_seconds !== undefined) body.time_limit_seconds = limits.time_limit_seconds;
    return this.t.json({ method: 'PATCH', path: `${batchPath(id)}/limits`, json: body, signal: opts.signal }, BatchView);
  }

  /** `GET /v1/batches/:id/results?format=json`: one page of rows (`limit` ≤ 1000) and the `total`. */
  output(id: string, params: OutputParams = {}): Promise<ResultPage> {
    const { signal, ...query } = params;
    return this.t.json({ method: 'GET', path: `${batchPath(id)}/results`, query: { format: 'json', ...query }, signal }, ResultPage);
  }

  /**
   * Every row (or every row with `status`), read from the JSONL export line by line as it
   * arrives: memory stays flat however large the batch. The request is retried until the server
   * answers; once rows flow, a broken connection is thrown (ConnectionError), not retried.
   * `timeoutMs` applies to the wait for each piece of data, not to the whole export.
   */
  async *iterOutput(id: string, params: IterOutputParams = {}): AsyncGenerator<ResultView> {
    const a = await this.t.stream({
      method: 'GET',
      path: `${batchPath(id)}/results`,
      query: { format: 'jsonl', status: params.status },
      accept: 'application/x-ndjson',
      signal: params.signal,
    });
    let lineNo = 0;
    for await (const line of splitLines(this.t.readChunks(a))) {
      lineNo++;
      if (!line.trim()) continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new DroverResponseError({
          status: a.res.status,
          type: 'invalid_response',
          message: `${a.describe}: line ${lineNo} of the JSONL export is not JSON (a cut-off stream?): ${line.slice(0, 200)}`,
          requestId: a.requestId,
          body: line,
          cause: err,
        });
      }
      yield parseValue(value, ResultView, `${a.describe} (line ${lineNo})`, a.res.status, a.requestId);
    }
  }

  /**
   * Streams the JSONL or CSV export to `path` without holding it in memory. It is written to
   * `<path>.partial` first and renamed once complete, so `path` never holds half a file.
   */
  async downloadOutput(id: string, params: DownloadParams): Promise<DownloadResult> {
    const a = await this.t.stream({
      method: 'GET',
      path: `${batchPath(id)}/results`,
      query: { format: params.format, status: params.status },
      accept: params.format === 'csv' ? 'text/csv' : 'application/x-ndjson',
      signal: params.signal,
    });
    const partial = `${params.path}.partial`;
    let bytes = 0;
    const chunks = this.t.readChunks(a);
    const counted = async function* () {
      for await (const chunk of chunks) {
        bytes += chunk.byteLength;
        yield chunk;
      }
    };
    try {
      await pipeline(Readable.from(counted()), createWriteStream(partial));
      await rename(partial, params.path);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    return { path: params.path, bytes };
  }

  /** Polls `retrieve` until the batch ends (any final status, failures included) and returns its last state. */
  async wait(id: string, opts: WaitOptions = {}): Promise<BatchView> {
    const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    const giveUpAt = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    for (;;) {
      const batch = await this.retrieve(id, { signal: opts.signal });
      await opts.onProgress?.(batch);
      if (isTerminal(batch.status)) return batch;
      const left = giveUpAt - Date.now();
      if (left <= 0) throw new WaitTimeoutError(`batch ${id} is still ${batch.status} after ${opts.timeoutMs} ms`, batch);
      await sleep(Math.min(pollMs, left), opts.signal);
    }
  }

  /** `submit`, then `wait`: the batch's final state. */
  async submitAndWait(body: BatchCreateParams, opts: WaitOptions = {}): Promise<BatchView> {
    const batch = await this.submit(body, { signal: opts.signal });
    return this.wait(batch.id, opts);
  }

  /**
   * Structured output end to end: `response_format` is made from the zod schema (or a
   * `withSchema` result), the batch is run to its end, and every row comes back with succeeded
   * outputs parsed by the schema (an output that fails it throws OutputParseError). Rows are
   * collected in memory; for very large batches use `withSchema` with `iterOutput`.
   */
  async submitAndWaitTyped<S extends z.ZodType>(
    body: Omit<BatchSettingsInput, 'response_format'> & ItemsOrFile,
    schema: S | StructuredOutput<S>,
    opts: TypedOptions = {},
  ): Promise<TypedBatch<z.output<S>>> {
    const structured = isStructured(schema) ? schema : withSchema(schema, opts);
    const batch = await this.submitAndWait({ ...body, response_format: structured.response_format }, opts);
    const rows: Array<TypedResult<z.output<S>>> = [];
    for await (const row of this.iterOutput(batch.id, { signal: opts.signal })) rows.push(structured.parseRow(row));
    return { batch, rows };
  }
}

function isStructured<S extends z.ZodType>(s: S | StructuredOutput<S>): s is StructuredOutput<S> {
  return typeof (s as Partial<StructuredOutput<S>>).parseRow === 'function' && 'response_format' in s;
}
