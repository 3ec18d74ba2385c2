import { z } from 'zod';
import { Pricing } from './pricing.js';

/**
 * The API's response shapes: the single source of truth for what the server sends
 * (api/views.ts builds these types), what the client checks every response against
 * (client/schemas.ts re-exports this file) and the OpenAPI document (api/openapi.ts).
 *
 * Objects are not strict: a client parsing with them drops a field the server adds later
 * rather than failing every call, while a field that goes missing or changes type fails loudly.
 * Zod only, no I/O: the client imports it.
 */

export const BatchStatus = z
  .enum([
    'queued',
    'running',
    'paused',
    'awaiting_budget',
    'awaiting_approval',
    'cancelling',
    'completed',
    'completed_with_failures',
    'failed',
    'cancelled',
    'timed_out',
    'budget_exhausted',
  ])
  .meta({ id: 'BatchStatus' });
export type BatchStatus = z.infer<typeof BatchStatus>;

/** Statuses after which a batch never changes again. */
export const TERMINAL_BATCH_STATUSES: readonly BatchStatus[] = BatchStatus.exclude([
  'queued',
  'running',
  'paused',
  'awaiting_budget',
  'awaiting_approval',
  'cancelling',
]).options;

export function isTerminal(status: BatchStatus): boolean {
  return TERMINAL_BATCH_STATUSES.includes(status);
}

export const ResultStatus = z.enum(['pending', 'succeeded', 'failed', 'cancelled']).meta({ id: 'ResultStatus' });
export type ResultStatus = z.infer<typeof ResultStatus>;

const IsoTime = z.iso.datetime({ offset: true });
const Metadata = z.record(z.string(), z.unknown());

export const Usage = z
  .object({
    input_tokens: z.number(),
    cached_input_tokens: z.number(),
    output_tokens: z.number(),
    reasoning_tokens: z.number(),
  })
  .meta({ id: 'Usage', description: 'Tokens; input_tokens includes cached ones, output_tokens includes reasoning ones.' });
export type Usage = z.infer<typeof Usage>;

/** An item's last error; a schema failure also carries the validator's `errors` and the `raw_output`. */
export const ItemError = z
  .object({
    code: z.string(),
    message: z.string(),
    status_code: z.int().optional(),
    errors: z.array(z.string()).optional(),
    raw_output: z.string().optional(),
  })
  .meta({ id: 'ItemError' });
export type ItemError = z.infer<typeof ItemError>;

/** `GET /v1/batches/:id`, and what submit, pause, resume, cancel and setLimits answer. */
export const BatchView = z
  .object({
    id: z.string(),
    object: z.literal('batch'),
    status: BatchStatus,
    model: z.string(),
    provider: z.string(),
    counts: z.object({ total: z.number(), succeeded: z.number(), failed: z.number(), cancelled: z.number(), pending: z.number() }),
    usage: Usage,
    cost: z.object({
      spent_usd: z.number(),
      reserved_usd: z.number().meta({ description: 'Worst case of the attempts running now.' }),
      budget: z
        .object({
          needed_usd: z.number(),
          free_usd: z.number(),
          scope: z
            .enum(['batch', 'tenant'])
            .optional()
            .meta({ description: "Whose limit has no room: the batch's max_cost_usd, or its tenant's monthly cap." }),
        })
        .nullable()
        .optional()
        .meta({ description: 'While awaiting_budget: what the next attempt or chunk needs reserved, and what the limit leaves free.' }),
      limit_usd: z.number().nullable(),
      estimated_total_usd: z.number().nullable(),
      cache_saved_usd: z
        .number()
        .optional()
        .meta({ description: 'What the items answered from the result cache cost when they were first paid for.' }),
      prompt_cache_saved_usd: z.number().optional().meta({
        description:
          "What the providers' prompt caches took off the input price (cached input tokens at the input rate less the cached rate, at the batch mode's multiplier).",
      }),
    }),
    cache: z
      .object({
        mode: z.enum(['use', 'refresh', 'off']),
        hits: z.number().meta({ description: 'Items answered from the result cache.' }),
      })
      .optional()
      .meta({ description: "The batch's result cache setting and what it answered." }),
    rerun_of: z.string().nullable().optional().meta({ description: 'The batch whose items this one reruns.' }),
    reruns: z
      .array(z.string())
      .optional()
      .meta({ description: 'Batches made from this one by POST /v1/batches/:id/rerun, oldest first (GET of one batch only).' }),
    deadline: IsoTime.nullable(),
    chunks: z.object({ total: z.number(), completed: z.number(), running: z.number(), waiting: z.number() }).nullable(),
    metadata: Metadata.nullable(),
    error: z.string().nullable(),
    created_at: IsoTime,
    started_at: IsoTime.nullable(),
    completed_at: IsoTime.nullable(),
    eta: IsoTime.nullable(),
    status_reason: z
      .string()
      .nullable()
      .optional()
      .meta({ description: 'Why a batch that is not moving waits (awaiting_budget, paused), and what lets it go on; null otherwise.' }),
    sample: z
      .object({
        size: z.number(),
        succeeded: z.number(),
        failed: z.number(),
        success_rate: z.number(),
        cost_usd: z.number(),
        projected_total_usd: z
          .number()
          .meta({ description: "The sample's cost plus the other items priced from the sample's real usage, at each chunk's path." }),
      })
      .optional()
      .meta({ description: 'Sample first: what the sample showed, once it has run.' }),
    warnings: z
      .array(z.string())
      .optional()
      .meta({ description: 'In the submit answer only: what will keep the batch from running as asked (a limit below its first chunk).' }),
    webhook_secret: z
      .string()
      .optional()
      .meta({ description: 'Sent once, in the answer to the submit that set webhook_url: the key that signs its deliveries.' }),
    synthetic: z.literal(true).optional().meta({
      description: "Present when the provider emulator served this batch (no API key was set): its answers are synthetic, not a model's.",
    }),
  })
  .meta({ id: 'Batch' });
export type BatchView = z.infer<typeof BatchView>;

/** `DELETE /v1/admin/tenants/:tenant/cache`: what was forgotten. */
export const CachePurge = z
  .object({ object: z.literal('cache_purge'), tenant: z.string(), deleted: z.number() })
  .meta({ id: 'CachePurge' });
export type CachePurge = z.infer<typeof CachePurge>;

/** One row of `GET /v1/batches/:id/results` (every format but CSV) and `GET /v1/batches/:id/items/:item_id`. */
export const ResultView = z
  .object({
    id: z.string(),
    status: ResultStatus,
    output: z
      .unknown()
      .meta({ description: 'Parsed JSON for a json_schema batch, a string for text; null while pending or after a failure.' }),
    error: ItemError.nullable(),
    usage: Usage.nullable(),
    cost_usd: z.number(),
    path: z.enum(['batch', 'realtime', 'cache']).nullable().meta({
      description:
        "How the answer was obtained: the provider's batch API, one realtime call, or the tenant's result cache (at no cost); null while pending.",
    }),
    cached_from: z.string().optional().meta({ description: 'For path `cache`: the batch whose paid answer this is.' }),
    citations: z.array(Metadata).optional().meta({ description: 'Present only when the batch asked for citations (Anthropic).' }),
    metadata: Metadata.nullable(),
    synthetic: z.literal(true).optional().meta({
      description: "Present when the provider emulator wrote this answer: it is synthetic, not a model's.",
    }),
  })
  .meta({ id: 'Result' });
export type ResultView = z.infer<typeof ResultView>;

/** `GET /v1/batches/:id/results?format=json`: one page. */
export const ResultPage = z
  .object({
    object: z.literal('list'),
    data: z.array(ResultView),
    offset: z.number(),
    limit: z.number(),
    total: z.number(),
  })
  .meta({ id: 'ResultPage' });
export type ResultPage = z.infer<typeof ResultPage>;

/** `GET /v1/batches`: newest first; `next_cursor` is null on the last page. */
export const BatchList = z
  .object({
    object: z.literal('list'),
    data: z.array(BatchView),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'BatchList' });
export type BatchList = z.infer<typeof BatchList>;

export { Pricing };

/** `POST /v1/batches/estimate` (and a `dry_run`). `chunks.plan` shows at most the first 100 chunks. */
export const BatchEstimate = z
  .object({
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
  })
  .meta({ id: 'BatchEstimate' });
export type BatchEstimate = z.infer<typeof BatchEstimate>;

/** One problem with a request: `path` names the field, `line` the NDJSON, JSONL or CSV line (1-based). */
export const Issue = z.object({ path: z.string(), message: z.string(), line: z.number().optional() }).meta({ id: 'Issue' });

/** Every error the API answers with. */
export const ErrorBody = z
  .object({
    error: z.object({
      type: z.string().meta({
        description:
          'invalid_request, invalid_json, body_too_large, authentication_error (401: no key, or an unknown or revoked one), permission_error (403: the key lacks the scope), not_found, conflict, timeout, internal_error, …',
      }),
      message: z.string(),
      issues: z.array(Issue).optional(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** `POST /v1/completions/:operation`: the results, in item order. */
export const CompletionResponse = z
  .object({ object: z.literal('completion'), batch_id: z.string(), results: z.array(ResultView) })
  .meta({ id: 'CompletionResponse' });
export type CompletionResponse = z.infer<typeof CompletionResponse>;

/** `POST /v1/batches/validate`: every problem, nothing created. */
export const ValidationResponse = z
  .object({
    object: z.literal('validation'),
    valid: z.boolean(),
    item_count: z.number().optional(),
    chunk_count: z.number().optional(),
    issue_count: z.number(),
    issues: z.array(Issue),
  })
  .meta({ id: 'ValidationResponse' });
export type ValidationResponse = z.infer<typeof ValidationResponse>;

/** `POST /v1/files`, `GET /v1/files/:id`. */
export const FileView = z
  .object({
    id: z.string(),
    object: z.literal('file'),
    filename: z.string(),
    format: z.enum(['jsonl', 'csv']),
    bytes: z.number(),
    line_count: z.number().meta({ description: 'Items stored: blank lines and the CSV header are not counted.' }),
    created_at: IsoTime,
    expires_at: IsoTime.meta({
      description:
        'When the file and its lines are removed (DROVER_FILE_TTL_SECONDS after upload, 7 days unless set). Batches made from it keep their items.',
    }),
  })
  .meta({ id: 'File' });
export type FileView = z.infer<typeof FileView>;

/** `DELETE /v1/files/:id`: the file and its lines are gone; batches made from it keep their items. */
export const FileDeleted = z.object({ id: z.string(), object: z.literal('file'), deleted: z.literal(true) }).meta({ id: 'FileDeleted' });
export type FileDeleted = z.infer<typeof FileDeleted>;

export const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

/** What a key may do: `batches:read` every GET, `batches:write` every change, `admin` the key API (and everything else). */
export const Scope = z.enum(['batches:read', 'batches:write', 'admin']).meta({ id: 'Scope' });
export type Scope = z.infer<typeof Scope>;

/** `GET /v1/admin/keys`: a key as listed, never the key itself nor its hash. */
export const ApiKeyView = z
  .object({
    id: z.string(),
    object: z.literal('api_key'),
    tenant: z.string(),
    name: z.string(),
    scopes: z.array(Scope),
    created_at: IsoTime,
    last_used_at: IsoTime.nullable().meta({ description: 'Updated at most about once a minute.' }),
    revoked_at: IsoTime.nullable(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKeyView = z.infer<typeof ApiKeyView>;

/** `POST /v1/admin/keys`: the only answer that carries the key. */
export const ApiKeyCreated = ApiKeyView.extend({
  key: z.string().meta({ description: 'The key (`drv_…`): shown this once, stored only as a hash.' }),
}).meta({ id: 'ApiKeyCreated' });
export type ApiKeyCreated = z.infer<typeof ApiKeyCreated>;

export const ApiKeyList = z.object({ object: z.literal('list'), data: z.array(ApiKeyView) }).meta({ id: 'ApiKeyList' });
export type ApiKeyList = z.infer<typeof ApiKeyList>;

/** `GET|PATCH /v1/admin/tenants/:tenant/quotas`: a tenant's quotas (null: no limit) and where it stands. */
export const TenantQuotas = z
  .object({
    object: z.literal('tenant_quotas'),
    tenant: z.string(),
    requests_per_minute: z.number().int().nullable(),
    max_active_batches: z.number().int().nullable(),
    monthly_spend_usd: z
      .number()
      .nullable()
      .meta({ description: 'Batches reserve each attempt against it, as against their own max_cost_usd.' }),
    active_batches: z.number().int(),
    month: z
      .object({ spent_usd: z.number(), reserved_usd: z.number() })
      .meta({ description: 'This calendar month (UTC): what ended attempts cost, and what running ones reserve.' }),
  })
  .meta({ id: 'TenantQuotas' });
export type TenantQuotas = z.infer<typeof TenantQuotas>;
