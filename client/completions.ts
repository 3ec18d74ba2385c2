import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { Transport } from './http.js';
import { CompletionResponse, FileDeleted, FileView, ValidationResponse } from './schemas.js';

type Body = Record<string, unknown>;
interface Options {
  signal?: AbortSignal;
  /** How long the server waits for the items before it answers 504; default 120 s. */
  timeoutSeconds?: number;
}

/**
 * The synchronous operations: a few items (up to 100) answered in the response. Each call is a
 * small realtime batch on the server, so the result also names its `batch_id`.
 */
export class Completions {
  constructor(private readonly t: Transport) {}

  classify(body: Body, opts: Options = {}): Promise<CompletionResponse> {
    return this.run('classify', body, opts);
  }
  extract(body: Body, opts: Options = {}): Promise<CompletionResponse> {
    return this.run('extract', body, opts);
  }
  summarize(body: Body, opts: Options = {}): Promise<CompletionResponse> {
    return this.run('summarize', body, opts);
  }
  enrich(body: Body, opts: Options = {}): Promise<CompletionResponse> {
    return this.run('enrich', body, opts);
  }
  /** Your own prompt: `system_prompt`, `user_prompt_template`, `response_format`. */
  custom(body: Body, opts: Options = {}): Promise<CompletionResponse> {
    return this.run('run', body, opts);
  }

  private run(operation: string, body: Body, opts: Options): Promise<CompletionResponse> {
    return this.t.json(
      {
        method: 'POST',
        path: `/v1/completions/${operation}`,
        query: { timeout_seconds: opts.timeoutSeconds },
        json: body,
        signal: opts.signal,
      },
      CompletionResponse,
    );
  }
}

/** Uploads: a JSONL or CSV file streamed from disk (`path`) or given in memory (`data`). */
export class Files {
  constructor(private readonly t: Transport) {}

  upload(params: {
    path?: string;
    data?: string | Uint8Array;
    filename?: string;
    format?: 'jsonl' | 'csv';
    /** Expire sooner than the server's file TTL (at least 60). */
    expiresAfterSeconds?: number;
    signal?: AbortSignal;
  }): Promise<FileView> {
    const { path, data } = params;
    if ((path === undefined) === (data === undefined)) throw new TypeError('upload takes a path or data');
    const filename = params.filename ?? (path ? basename(path) : `upload.${params.format ?? 'jsonl'}`);
    const format = params.format ?? (filename.endsWith('.csv') ? 'csv' : 'jsonl');
    const contentType = format === 'csv' ? 'text/csv' : 'application/x-ndjson';
    return this.t.json(
      {
        method: 'POST',
        path: '/v1/files',
        query: {
          filename,
          format,
          ...(params.expiresAfterSeconds !== undefined ? { expires_after_seconds: String(params.expiresAfterSeconds) } : {}),
        },
        // A file is reopened on a retry; in-memory data is resent as is.
        body: () => ({
          body: Readable.toWeb(path ? createReadStream(path) : Readable.from([Buffer.from(data!)])) as ReadableStream<Uint8Array>,
          contentType,
          failure: () => undefined,
        }),
        replayable: true,
        signal: params.signal,
      },
      FileView,
    );
  }

  retrieve(id: string, opts: { signal?: AbortSignal } = {}): Promise<FileView> {
    return this.t.json({ method: 'GET', path: `/v1/files/${encodeURIComponent(id)}`, signal: opts.signal }, FileView);
  }

  /** `DELETE /v1/files/:id`: the file goes now rather than at `expires_at`; batches made from it keep their items. */
  delete(id: string, opts: { signal?: AbortSignal } = {}): Promise<FileDeleted> {
    return this.t.json({ method: 'DELETE', path: `/v1/files/${encodeURIComponent(id)}`, signal: opts.signal }, FileDeleted);
  }
}

/** `POST /v1/batches/validate`: every problem of a body (or of `input_file_id`), nothing created. */
export function validateBatch(t: Transport, body: Body, signal?: AbortSignal): Promise<ValidationResponse> {
  return t.json({ method: 'POST', path: '/v1/batches/validate', json: body, signal }, ValidationResponse);
}
