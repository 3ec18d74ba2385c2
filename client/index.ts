import { Batches } from './batches.js';
import { Completions, Files, validateBatch } from './completions.js';
import type { ValidationResponse } from './schemas.js';
import { Transport, type FetchLike } from './http.js';
import { Keys } from './keys.js';

export interface DroverClientOptions {
  /** Where the API listens, e.g. `http://127.0.0.1:3000` (a path prefix is kept). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`; default: the `DROVER_API_KEY` environment variable. */
  apiKey?: string | undefined;
  /** Retries after a 429, a 5xx or a connection error; default 3 (so up to 4 attempts). */
  maxRetries?: number | undefined;
  /**
   * Per attempt: the whole request for JSON calls; for the streamed exports, the wait for the
   * headers and then for each piece of data. Default 60 000 ms.
   */
  timeoutMs?: number | undefined;
  /** A `fetch` to use instead of the global one. */
  fetch?: FetchLike | undefined;
  /** First backoff step, doubled per retry with jitter; default 500 ms. */
  retryBaseDelayMs?: number | undefined;
  /** Backoff ceiling; default 8 000 ms. */
  retryMaxDelayMs?: number | undefined;
  /** A `Retry-After` longer than this is not waited out (the RateLimitError is thrown); default 60 000 ms. */
  maxRetryAfterMs?: number | undefined;
  /** Extra headers sent with every request. */
  headers?: Record<string, string> | undefined;
}

/**
 * The Drover API client.
 *
 * ```ts
 * const drover = new DroverClient({ baseUrl: 'http://127.0.0.1:3000' });
 * const batch = await drover.batches.submitAndWait({ model: 'gpt-4.1-mini', items: [{ id: 'a', content: 'Hello' }] });
 * for await (const row of drover.batches.iterOutput(batch.id)) console.log(row.id, row.output);
 * ```
 */
export class DroverClient {
  readonly batches: Batches;
  readonly completions: Completions;
  readonly files: Files;
  /** API keys (`/v1/admin/keys`): needs an `admin` key. */
  readonly keys: Keys;
  /** `POST /v1/batches/validate`: every problem of a body, with its path or line; nothing is created. */
  readonly validate: (body: Record<string, unknown>, signal?: AbortSignal) => Promise<ValidationResponse>;
  readonly baseUrl: string;

  constructor(options: DroverClientOptions) {
    if (!options?.baseUrl) throw new TypeError('DroverClient needs a baseUrl');
    const base = new URL(options.baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`baseUrl must be http(s): ${options.baseUrl}`);
    const maxRetries = options.maxRetries ?? 3;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new TypeError('maxRetries must be a whole number ≥ 0');
    const fetchImpl = options.fetch ?? globalThis.fetch;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const transport = new Transport({
      baseUrl: this.baseUrl,
      apiKey: options.apiKey ?? (globalThis.process?.env?.DROVER_API_KEY || undefined),
      maxRetries,
      timeoutMs: options.timeoutMs ?? 60_000,
      fetch: (input, init) => fetchImpl(input, init),
      retryBaseDelayMs: options.retryBaseDelayMs ?? 500,
      retryMaxDelayMs: options.retryMaxDelayMs ?? 8_000,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
      headers: { 'user-agent': 'drover-client/0.1', ...options.headers },
    });
    this.batches = new Batches(transport);
    this.completions = new Completions(transport);
    this.files = new Files(transport);
    this.keys = new Keys(transport);
    this.validate = (body, signal) => validateBatch(transport, body, signal);
  }
}

export { Batches, type TypedBatch } from './batches.js';
export { Completions, Files } from './completions.js';
export { Keys } from './keys.js';
export * from './errors.js';
export type { FetchLike } from './http.js';
export {
  ApiKeyCreated,
  ApiKeyList,
  ApiKeyView,
  BatchEstimate,
  BatchList,
  BatchStatus,
  BatchView,
  CompletionResponse,
  ErrorBody,
  FileDeleted,
  FileView,
  ItemError,
  Pricing,
  ResultPage,
  ResultStatus,
  ResultView,
  Scope,
  TERMINAL_BATCH_STATUSES,
  Usage,
  ValidationResponse,
  isTerminal,
} from './schemas.js';
export { withSchema, strictCompatible, type SchemaOptions, type StructuredOutput, type TypedResult } from './structured.js';
export type * from './types.js';
