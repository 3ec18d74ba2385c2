import { z } from 'zod';

/**
 * The API's response shapes, as the server sends them (api/views.ts, api/batch-intake.ts,
 * api/batch-service.ts, api/routes/batches.ts, api/errors.ts). Every response body is parsed with
 * one of these; a body that does not match throws `DroverResponseError`.
 *
 * Objects are not strict: a field the server adds later is dropped rather than failing every call,
 * but a field that goes missing or changes type fails loudly.
 */

export const BatchStatus = z.enum([
  'queued',
  'running',
  'paused',
  'awaiting_budget',
  'cancelling',
  'completed',
  'completed_with_failures',
  'failed',
  'cancelled',
  'timed_out',
  'budget_exhausted',
]);
export type BatchStatus = z.infer<typeof BatchStatus>;

/** Statuses after which a batch never changes again. */
export const TERMINAL_STATUSES: readonly BatchStatus[] = ['completed', 'completed_with_failures', 'failed', 'cancelled', 'timed_out', 'budget_exhausted'];

export function isTerminal(status: BatchStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

const IsoTime = z.iso.datetime({ offset: true });

export const Usage = z.object({
  input_tokens: z.number(),
  cached_input_tokens: z.number(),
  output_tokens: z.number(),
  reasoning_tokens: z.number(),
});
export type Usage = z.infer<typeof Usage>;

const Metadata = z.record(z.string(), z.unknown());

/** `GET /v1/batches/:id`, and what submit, pause, resume, cancel and setLimits answer. */
export const BatchView = z.object({
  id: z.string(),
  object: z.literal('batch'),
  status: BatchStatus,
  model: z.string(),
  provider: z.string(),
  counts: z.object({ total: z.number(), succeeded: z.number(), failed: z.number(), cancelled: z.number(), pending: z.number() }),
  usage: Usage,
  cost: z.object({ spent_usd: z.number(), reserved_usd: z.number(), limit_usd: z.number().nullable(), estimated_total_usd: z.number().nullable() }),
  deadline: IsoTime.nullable(),
  chunks: z.object({ total: z.number(), completed: z.number(), running: z.number(), waiting: z.number() }).nullable(),
  metadata: Metadata.nullable(),
  error: z.string().nullable(),
  created_at: IsoTime,
  started_at: IsoTime.nullable(),
  completed_at: IsoTime.nullable(),
  eta: IsoTime.nullable(),
});
export type BatchView = z.infer<typeof BatchView>;

export const ResultStatus = z.enum(['pending', 'succeeded', 'failed', 'cancelled']);
export type ResultStatus = z.infer<typeof ResultStatus>;

/** An item's last error; a schema failure also carries the validator's `errors` and the `raw_output`. */
export const ItemError = z.object({
  code: z.string(),
  message: z.string(),
  status_code: z.number().optional(),
  errors: z.array(z.string()).optional(),
  raw_output: z.string().optional(),
});
export type ItemError = z.infer<typeof ItemError>;

/** One row of `GET /v1/batches/:id/results` (every format but CSV) and `GET /v1/batches/:id/items/:item_id`. */
export const ResultView = z.object({
  id: z.string(),
  status: ResultStatus,
  /** Parsed JSON for a `json_schema` batch, a string for text; null while pending. */
  output: z.unknown(),
  error: ItemError.nullable(),
  usage: Usage.nullable(),
  cost_usd: z.number(),
  /** `batch` or `realtime`: how the answer was obtained; null while pending. */
  path: z.enum(['batch', 'realtime']).nullable(),
  /** Present only when the batch asked for citations (Anthropic). */
  citations: z.array(Metadata).optional(),
  metadata: Metadata.nullable(),
});
export type ResultView = z.infer<typeof ResultView>;

/** `GET /v1/batches/:id/results?format=json`: one page. */
export const ResultPage = z.object({
  object: z.literal('list'),
  data: z.array(ResultView),
  offset: z.number(),
  limit: z.number(),
  total: z.number(),
});
export type ResultPage = z.infer<typeof ResultPage>;

/** `GET /v1/batches`: newest first; `next_cursor` is null on the last page. */
export const BatchList = z.object({
  object: z.literal('list'),
  data: z.array(BatchView),
  next_cursor: z.string().nullable(),
});
export type BatchList = z.infer<typeof BatchList>;

export const Pricing = z.object({
  input_per_mtok: z.number(),
  output_per_mtok: z.number(),
  cached_input_per_mtok: z.number().optional(),
  batch_multiplier: z.number(),
  source: z.enum(['genai-prices', 'override-file', 'request']),
});
export type Pricing = z.infer<typeof Pricing>;

/** `POST /v1/batches/estimate` (and a `dry_run`). `chunks.plan` shows at most the first 100 chunks. */
export const BatchEstimate = z.object({
  object: z.literal('batch_estimate'),
  model: z.string(),
  provider: z.string(),
  item_count: z.number(),
  chunks: z.object({
    count: z.number(),
    plan: z.array(z.object({ index: z.number(), items: z.number(), bytes: z.number(), input_tokens: z.number() })),
  }),
  input_tokens: z.number(),
  input_token_method: z.string(),
  output_tokens: z.object({ typical: z.number(), max: z.number(), per_item_max: z.number() }),
  cost: z.object({ low_usd: z.number(), expected_usd: z.number(), high_usd: z.number() }),
  pricing: Pricing,
});
export type BatchEstimate = z.infer<typeof BatchEstimate>;

export const Issue = z.object({ path: z.string(), message: z.string(), line: z.number().optional() });

/** Every error the API answers with. */
export const ErrorBody = z.object({
  error: z.object({ type: z.string(), message: z.string(), issues: z.array(Issue).optional() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** `POST /v1/completions/:operation`: the results, in item order. */
export const CompletionResponse = z.object({ object: z.literal('completion'), batch_id: z.string(), results: z.array(ResultView) });
export type CompletionResponse = z.infer<typeof CompletionResponse>;

/** `POST /v1/batches/validate`: every problem, nothing created. */
export const ValidationResponse = z.object({
  object: z.literal('validation'),
  valid: z.boolean(),
  item_count: z.number().optional(),
  chunk_count: z.number().optional(),
  issue_count: z.number(),
  issues: z.array(Issue),
});
export type ValidationResponse = z.infer<typeof ValidationResponse>;

/** `POST /v1/files`, `GET /v1/files/:id`. */
export const FileView = z.object({
  id: z.string(),
  object: z.literal('file'),
  filename: z.string(),
  format: z.enum(['jsonl', 'csv']),
  bytes: z.number(),
  line_count: z.number(),
  created_at: z.string(),
});
export type FileView = z.infer<typeof FileView>;
