import { z } from 'zod';
import { MAX_USD } from './money.js';
import { Prices } from './pricing.js';

/**
 * The request a user makes: the single source of truth for the API body, the NDJSON
 * query string, the stored `batches.spec` column and the types built from them.
 */

export const MessageRole = z.enum(['system', 'user', 'assistant']);

export const TextPart = z.strictObject({ type: z.literal('text'), text: z.string() });

/**
 * Where a provider fetches an attachment from: https only. `file:`, `http:` and other schemes
 * would have the provider (or a self-hosted server, on its own network) read what the caller names.
 */
const HttpsUrl = z.url({ protocol: /^https$/, error: 'an https:// URL' });
/** An image URL: https, or a `data:image/…;base64,` URL for the providers that take one (checked per provider at intake). */
const ImageUrl = z
  .url({ protocol: /^(https|data)$/, error: 'an https:// URL, or a data:image/…;base64, URL' })
  .refine((u) => !u.startsWith('data:') || /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]*={0,2}$/.test(u), {
    message: 'a data: URL must be data:image/(png|jpeg|gif|webp);base64,<data>',
  });

/** An image by URL or as base64 data (then `media_type` says which format). */
export const ImagePart = z
  .strictObject({
    type: z.literal('image'),
    url: ImageUrl.optional(),
    data: z.base64().optional(),
    media_type: z.enum(['image/png', 'image/jpeg', 'image/gif', 'image/webp']).optional(),
  })
  .refine((p) => (p.url === undefined) !== (p.data === undefined), { message: 'an image needs exactly one of url or data' })
  .refine((p) => p.data === undefined || p.media_type !== undefined, {
    message: 'base64 image data needs media_type',
    path: ['media_type'],
  });

/** A PDF (base64 data or URL) or a plain-text document; `title` names it in citations. */
export const DocumentPart = z
  .strictObject({
    type: z.literal('document'),
    media_type: z.enum(['application/pdf', 'text/plain']),
    data: z.base64().optional(),
    text: z.string().optional(),
    url: HttpsUrl.optional(),
    title: z.string().max(500).optional(),
  })
  .refine((p) => [p.data, p.text, p.url].filter((v) => v !== undefined).length === 1, {
    message: 'a document needs exactly one of data, text or url',
  })
  .refine((p) => p.text === undefined || p.media_type === 'text/plain', {
    message: 'text documents have media_type text/plain',
    path: ['media_type'],
  });

export const ContentPart = z.union([TextPart, ImagePart, DocumentPart]);
export type ContentPart = z.infer<typeof ContentPart>;
export type MediaPart = Exclude<ContentPart, { type: 'text' }>;

export const ChatMessage = z.strictObject({ role: MessageRole, content: z.union([z.string(), z.array(ContentPart).min(1)]) });
export type ChatMessage = z.infer<typeof ChatMessage>;

/** The text of a message, whatever its form: what templates, estimates and echoes read. */
export function messageText(m: ChatMessage): string {
  return typeof m.content === 'string'
    ? m.content
    : m.content.map((p) => (p.type === 'text' ? p.text : p.type === 'document' && p.text ? p.text : '')).join('\n');
}

export const ResponseFormat = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text') }),
  z.strictObject({
    type: z.literal('json_schema'),
    json_schema: z.strictObject({
      name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'letters, digits, _ or -, at most 64'),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()),
      strict: z.boolean().optional(),
    }),
  }),
]);
export type ResponseFormat = z.infer<typeof ResponseFormat>;

const Metadata = z.record(z.string(), z.unknown());

export const ItemInput = z.strictObject({
  id: z.string().min(1).max(256).describe('Unique in the batch; results carry it.'),
  content: z.string().optional().describe('The text; the user message itself unless a template says otherwise.'),
  inputs: z.record(z.string(), z.unknown()).optional().describe("Values for the template's `{placeholders}`."),
  messages: z.array(ChatMessage).min(1).optional().describe('A whole conversation instead of content.'),
  /** Images and documents sent with the item's prompt, after its text. */
  attachments: z
    .array(z.union([ImagePart, DocumentPart]))
    .min(1)
    .optional(),
  metadata: Metadata.optional(),
});
export type ItemInput = z.infer<typeof ItemInput>;

/** Limits that keep one chunk inside every provider's batch limits and a workflow's history small. */
export const LIMITS = {
  maxChunkSize: 50_000,
  maxParallelChunks: 100,
  maxAttempts: 10,
} as const;

export const DEFAULTS = {
  chunkSize: 10_000,
  maxParallelChunks: 4,
  maxAttempts: 3,
} as const;

/**
 * Sample first, then approve: `size` items picked at random (deterministically, by a hash of the
 * batch id and position) run realtime first; the batch then waits in `awaiting_approval` for
 * POST …/approve or …/reject, or decides at once with `approve: "auto"`.
 */
export const SampleSpec = z.strictObject({
  size: z.int().min(1).max(1000).describe('Items in the sample, run realtime before the rest.'),
  approve: z
    .enum(['manual', 'auto'])
    .default('manual')
    .describe(
      'manual: wait for approve/reject; auto: approve when the sample meets min_success_rate and the projection fits max_cost_usd.',
    ),
  min_success_rate: z.number().min(0).max(1).default(0.95).describe('auto: the share of sampled items that must succeed.'),
  approval_window_seconds: z
    .int()
    .positive()
    .max(30 * 86_400)
    .default(86_400)
    .describe('How long the batch waits for a decision; then it ends cancelled ("approval window lapsed").'),
});
export type SampleSpec = z.infer<typeof SampleSpec>;

/** Everything about a batch except its items; NDJSON bodies carry these in the query string. */
export const BatchSettings = z.strictObject({
  model: z
    .string()
    .min(1)
    .max(200)
    .describe('`provider/model` (openai/gpt-4.1-mini, anthropic/…, gemini/…, openai_compatible/…) or a model name with a known prefix.'),
  system_prompt: z.string().optional().describe('Sent first with every item.'),
  user_prompt_template: z
    .string()
    .min(1)
    .optional()
    .describe("The user message; `{field}` takes the item's `inputs.field` (or a CSV column), `{content}` its content."),
  response_format: ResponseFormat.optional().describe(
    'Text (the default), or a JSON Schema every output must match: outputs come back parsed, and one that does not match is asked again.',
  ),
  max_output_tokens: z
    .int()
    .positive()
    .max(1_000_000)
    .optional()
    .describe('Per request; also what the budget reserves per item. Without it the provider default, or the bound of a small schema.'),
  chunk_size: z.int().positive().max(LIMITS.maxChunkSize).default(DEFAULTS.chunkSize).describe('Items per provider batch.'),
  max_parallel_chunks: z
    .int()
    .positive()
    .max(LIMITS.maxParallelChunks)
    .default(DEFAULTS.maxParallelChunks)
    .describe('Chunks in flight at once.'),
  max_attempts: z
    .int()
    .positive()
    .max(LIMITS.maxAttempts)
    .default(DEFAULTS.maxAttempts)
    .describe('Tries per item; only retryable failures are sent again.'),
  idempotency_key: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('A second submit with the same key returns the first batch instead of creating one.'),
  metadata: Metadata.optional().describe('Yours; returned with the batch.'),
  /** Spend ceiling in dollars; chunks start only while their worst case fits under it. */
  max_cost_usd: z
    .number()
    .positive()
    // Money is exact within this bound (domain/money.ts).
    .max(MAX_USD)
    .optional()
    .describe('Spend ceiling in dollars: a chunk starts only while its worst case fits under it.'),
  deadline: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Work still running then is cancelled (partial results kept); the batch ends timed_out.'),
  time_limit_seconds: z.int().positive().optional().describe('The deadline as seconds from now.'),
  on_budget_exhausted: z
    .enum(['wait', 'stop'])
    .default('wait')
    .describe('wait: the batch waits in awaiting_budget for a raised limit; stop: it ends budget_exhausted.'),
  /** Prices for a model the price data does not know, per million tokens. */
  prices: Prices.optional().describe('Per million tokens, for a model the price data does not know.'),
  /** Validate, plan and estimate the cost; store nothing, call no provider. */
  dry_run: z.boolean().default(false).describe('Answer with the estimate; store nothing, call no provider.'),
  /** `batch`: the provider's batch API; `realtime`: one call per item; `auto`: batch for large chunks. */
  mode: z
    .enum(['batch', 'realtime', 'auto'])
    .default('auto')
    .describe("batch: the provider's batch API (half price); realtime: rate-limited calls; auto: batch for attempts of 50 items or more."),
  sample: SampleSpec.optional().describe('Run a random sample realtime first and wait for approval before the rest.'),
  /** Anthropic: cite the item's documents; citations come back with each result. */
  enable_citations: z.boolean().default(false).describe("Anthropic: cite the item's documents."),
  /** The tenant's result cache: an item whose exact request was answered before is answered from it, at no cost. */
  cache: z
    .enum(['use', 'refresh', 'off'])
    .optional()
    .describe(
      "use: answer items from the tenant's result cache when their exact request was answered before (no cost), and remember new answers; refresh: send every item and replace what is remembered; off: neither. Default: the deployment's (DROVER_RESULT_CACHE, use).",
    ),
  /** Where signed events go when the batch completes, fails, is cancelled, times out or waits for budget. */
  webhook_url: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      'Gets a signed POST when the batch completes, fails, is cancelled, times out or waits for budget. https to a public address (http and private addresses only where the operator allows them).',
    ),
});
export type BatchSettings = z.infer<typeof BatchSettings>;

/** Query strings are all strings: numbers are coerced and `response_format`/`metadata` are JSON. */
export const BatchSettingsQuery = z.strictObject({
  model: z.string(),
  system_prompt: z.string().optional(),
  user_prompt_template: z.string().optional(),
  response_format: z.string().optional(),
  max_output_tokens: z.coerce.number().optional(),
  chunk_size: z.coerce.number().optional(),
  max_parallel_chunks: z.coerce.number().optional(),
  max_attempts: z.coerce.number().optional(),
  idempotency_key: z.string().optional(),
  metadata: z.string().optional(),
  max_cost_usd: z.coerce.number().optional(),
  deadline: z.string().optional(),
  time_limit_seconds: z.coerce.number().optional(),
  on_budget_exhausted: z.string().optional(),
  prices: z.string().optional(),
  dry_run: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  mode: z.string().optional(),
  cache: z.string().optional(),
  webhook_url: z.string().optional(),
  enable_citations: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
});

/** What the worker needs to build each request: stored once per batch in `batches.spec`. */
export const PromptSpec = z.object({
  model: z.string(),
  citations: z.boolean().optional(),
  system_prompt: z.string().optional(),
  user_prompt_template: z.string().optional(),
  response_format: ResponseFormat.optional(),
  max_output_tokens: z.int().optional(),
});
export type PromptSpec = z.infer<typeof PromptSpec>;

const S = BatchSettings.shape;

/** The outcomes whose items a rerun takes: `pending` is never one, as only an ended batch is rerun. */
export const RerunStatus = z.enum(['failed', 'cancelled', 'succeeded']);

/**
 * `POST /v1/batches/:id/rerun`: a new batch of the ended batch's items with the chosen outcomes,
 * with its settings unless given here.
 */
export const RerunRequest = z.strictObject({
  status: z.array(RerunStatus).min(1).default(['failed']).describe('Which items to run again, by their outcome.'),
  model: S.model.optional(),
  mode: S.mode.unwrap().optional(),
  max_output_tokens: S.max_output_tokens,
  chunk_size: S.chunk_size.unwrap().optional(),
  max_parallel_chunks: S.max_parallel_chunks.unwrap().optional(),
  max_attempts: S.max_attempts.unwrap().optional(),
  max_cost_usd: S.max_cost_usd,
  time_limit_seconds: S.time_limit_seconds,
  deadline: S.deadline,
  on_budget_exhausted: S.on_budget_exhausted.unwrap().optional(),
  cache: S.cache,
  prices: S.prices,
  metadata: S.metadata,
  idempotency_key: S.idempotency_key,
});
export type RerunRequest = z.infer<typeof RerunRequest>;
