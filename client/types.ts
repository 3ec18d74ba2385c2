import type { z } from 'zod';
import type { BatchSettings, ItemInput as ItemInputSchema, RerunRequest, ResponseFormat } from '../domain/batch-spec.js';
import type { Operation as OperationSchema } from '../domain/operations.js';
import type { BatchStatus, BatchView, ResultStatus } from './schemas.js';

/**
 * Request types, taken from the server's own request schemas (domain/batch-spec.ts) on their
 * input side, so fields with a server default are optional here.
 */

/** Everything about a batch but its items (the NDJSON form sends these in the query string). */
export type BatchSettingsInput = Omit<z.input<typeof BatchSettings>, 'dry_run'>;

/** One item: `id`, and `content` and/or `inputs`, or `messages`; `attachments` and `metadata` optional. */
export type ItemInput = z.input<typeof ItemInputSchema>;

export type ResponseFormatInput = z.input<typeof ResponseFormat>;

/** A ready-made operation and its own fields (`categories`, `extraction_instructions`, …), or none. */
export type OperationInput = z.input<typeof OperationSchema> | { operation?: undefined };

/** The items themselves, or an uploaded file's id (`files.upload`). */
export type ItemsOrFile = { items: ItemInput[]; input_file_id?: undefined } | { input_file_id: string; items?: undefined };

/** The body of `POST /v1/batches`. For a dry run use `batches.estimate()`. */
export type BatchCreateParams = BatchSettingsInput & ItemsOrFile & OperationInput;

/**
 * The body of `POST /v1/batches/:id/rerun`: which items to run again by outcome (`failed` by
 * default) and any settings to change (`model`, `mode`, `max_attempts`, …); the rest are the old batch's.
 */
export type RerunParams = z.input<typeof RerunRequest>;

export interface RequestOptions {
  /** Aborts the call (and its retries); the signal's reason is thrown. */
  signal?: AbortSignal | undefined;
}

export interface ListParams extends RequestOptions {
  status?: BatchStatus | undefined;
  model?: string | undefined;
  created_after?: string | Date | undefined;
  /** 1 to 100; the server's default is 20. */
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface OutputParams extends RequestOptions {
  status?: ResultStatus | undefined;
  offset?: number | undefined;
  /** 1 to 1000; the server's default is 100. */
  limit?: number | undefined;
}

export interface IterOutputParams extends RequestOptions {
  status?: ResultStatus | undefined;
}

export interface DownloadParams extends RequestOptions {
  format: 'jsonl' | 'csv';
  /** Written as `<path>.partial` and renamed into place once the whole body is in. */
  path: string;
  status?: ResultStatus | undefined;
}

export interface DownloadResult {
  path: string;
  bytes: number;
}

/** `null` removes a limit; give `deadline` or `time_limit_seconds`, not both. */
export interface LimitsParams {
  max_cost_usd?: number | null | undefined;
  deadline?: string | Date | null | undefined;
  time_limit_seconds?: number | undefined;
}

export interface WaitOptions extends RequestOptions {
  /** Between polls; default 2000 ms. */
  pollMs?: number | undefined;
  /** Give up (WaitTimeoutError) after this long; default: wait as long as it takes. */
  timeoutMs?: number | undefined;
  /** Called with every state polled, the last (ended) one included. */
  onProgress?: ((batch: BatchView) => void | Promise<void>) | undefined;
}
