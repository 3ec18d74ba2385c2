import { createHash } from 'node:crypto';
import Anthropic, { APIConnectionError, APIError } from '@anthropic-ai/sdk';
import type {
  ContentBlockParam,
  Message,
  MessageCreateParamsNonStreaming,
  MessageParam,
  TextCitation,
  Tool,
} from '@anthropic-ai/sdk/resources/messages';
import type { MessageBatch, MessageBatchIndividualResponse } from '@anthropic-ai/sdk/resources/messages/batches';
import { messageText, type ChatMessage, type ContentPart } from '../domain/batch-spec.js';
import type { Usage } from '../domain/usage.js';
import { FailureType } from '../domain/failure-types.js';
import {
  TERMINAL_PROVIDER_STATES,
  type BatchProvider,
  type BatchRequest,
  type CallOutcome,
  type ChatRequest,
  type Citation,
  type FindBatchHint,
  type ListedBatch,
  type ProviderBatchState,
  type ProviderBatchStatus,
  type ProviderErrorInfo,
  type ProviderResultLine,
  type RealtimeProvider,
  JOB_KEY_HEADER,
} from './types.js';
import { parseRetryAfter } from './retry-after.js';
import { encodeSliced } from './encode-stream.js';

/** Anthropic requires `max_tokens`; Drover's spec leaves it optional. */
export const DEFAULT_MAX_TOKENS = 4096;
export { JOB_KEY_HEADER } from './types.js';
/** Slack for clock skew between this host and Anthropic when `findBatch` compares `created_at`. */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Anthropic batches carry no metadata, so the job key rides in the custom_ids: every request's id
 * is `<seq>-k<10 hex digits of the key's SHA-256>` (custom_id allows `^[a-zA-Z0-9_-]{1,64}$`).
 * Results come back in no order, so any one line names the job that created the batch.
 */
export function jobTag(jobKey: string): string {
  return 'k' + createHash('sha256').update(jobKey).digest('hex').slice(0, 10);
}

export function taggedCustomId(customId: string, jobKey: string): string {
  return `${customId}-${jobTag(jobKey)}`;
}

/** A result's custom_id as Drover sent it (the seq) and the job tag it carried, if any. */
export function splitCustomId(raw: string): { customId: string; tag: string | null } {
  const m = /^(.*)-(k[0-9a-f]{10})$/.exec(raw);
  return m ? { customId: m[1]!, tag: m[2]! } : { customId: raw, tag: null };
}

export interface AnthropicProviderOptions {
  apiKey: string;
  /** Without `/v1` (the SDK's paths start with it). Undefined: `ANTHROPIC_BASE_URL`, else the real API. */
  baseURL?: string | undefined;
}

export function createAnthropicClient(opts: AnthropicProviderOptions): Anthropic {
  // maxRetries 0: Temporal retries activities; a second retrier would hide failures and could
  // re-POST a batch create.
  return new Anthropic({ apiKey: opts.apiKey, baseURL: opts.baseURL, maxRetries: 0, timeout: 10 * 60_000 });
}

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * A Messages body for one Drover request. System messages are hoisted into the top-level `system`
 * (one text block each, the first marked for the prompt cache); user and assistant messages keep their order (consecutive messages of
 * one role are allowed by the API). No temperature/top_p/top_k: API version 2026-10-21, which SDK
 * 1.x sends, rejects them. A JSON-schema response format becomes one forced tool whose
 * `input_schema` is the schema; `anthropicOutcome` returns that tool's input as JSON text.
 */
export function encodeAnthropicParams(request: ChatRequest): MessageCreateParamsNonStreaming {
  const system: string[] = [];
  const messages: MessageParam[] = [];
  for (const m of request.messages) {
    if (m.role === 'system') system.push(messageText(m));
    else messages.push(encodeAnthropicMessage(m.role, m, request.citations === true));
  }
  const params: MessageCreateParamsNonStreaming = {
    model: request.model,
    max_tokens: request.max_output_tokens ?? DEFAULT_MAX_TOKENS,
    messages,
  };
  // The first system message is the batch's system prompt, the same for every item: a cache
  // breakpoint after it lets every request after the first read the tools (the schema) and it from
  // Anthropic's prompt cache at a tenth of the input price. An item's own system messages follow
  // in blocks of their own, outside the cached prefix. A prefix under the model's minimum is not cached.
  if (system.length > 0)
    params.system = system.map((text, i) =>
      i === 0 ? { type: 'text', text, cache_control: { type: 'ephemeral' } } : { type: 'text', text },
    );
  const format = request.response_format;
  if (format?.type === 'json_schema') {
    const s = format.json_schema;
    const tool: Tool = { name: s.name, input_schema: s.schema as Tool.InputSchema };
    if (s.description !== undefined) tool.description = s.description;
    // No `strict`: Anthropic's strict tools refuse keywords such as minimum/maximum that
    // OpenAI accepts. The forced tool already shapes the answer, and Ajv checks it afterwards.
    params.tools = [tool];
    params.tool_choice = { type: 'tool', name: s.name };
  }
  return params;
}

function encodeAnthropicMessage(role: 'user' | 'assistant', m: ChatMessage, citations: boolean): MessageParam {
  if (typeof m.content === 'string') return { role, content: m.content };
  return { role, content: m.content.map((p) => encodeAnthropicPart(p, citations)) };
}

export function encodeAnthropicPart(p: ContentPart, citations = false): ContentBlockParam {
  if (p.type === 'text') return { type: 'text', text: p.text };
  if (p.type === 'image') {
    if (p.url !== undefined) return { type: 'image', source: { type: 'url', url: p.url } };
    // Intake guarantees media_type with data.
    return { type: 'image', source: { type: 'base64', media_type: p.media_type ?? 'image/png', data: p.data ?? '' } };
  }
  let source: Extract<ContentBlockParam, { type: 'document' }>['source'];
  if (p.text !== undefined) source = { type: 'text', media_type: 'text/plain', data: p.text };
  else if (p.url !== undefined) source = { type: 'url', url: p.url };
  else if (p.media_type === 'text/plain')
    source = { type: 'text', media_type: 'text/plain', data: Buffer.from(p.data ?? '', 'base64').toString('utf8') };
  else source = { type: 'base64', media_type: 'application/pdf', data: p.data ?? '' };
  const block: Extract<ContentBlockParam, { type: 'document' }> = { type: 'document', source };
  if (p.title !== undefined) block.title = p.title;
  if (citations) block.citations = { enabled: true };
  return block;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * A Message, from a batch result or a realtime response, in Drover's terms. The answer is the
 * first `tool_use` block's input as JSON (structured output), else the text blocks joined.
 * `max_tokens` (and `model_context_window_exceeded`) mean truncated; `refusal` is a
 * non-retryable failure. Citations of all text blocks are collected in order.
 */
export function anthropicOutcome(message: Message): CallOutcome {
  const usage = anthropicUsage(message.usage);
  const content = message.content ?? [];
  const texts: string[] = [];
  const citations: Citation[] = [];
  let toolInput: unknown;
  let hasTool = false;
  for (const block of content) {
    if (block.type === 'text') {
      texts.push(block.text);
      for (const c of block.citations ?? []) citations.push(c as TextCitation as unknown as Citation);
    } else if (block.type === 'tool_use' && !hasTool) {
      hasTool = true;
      toolInput = block.input;
    }
  }
  if (message.stop_reason === 'refusal') {
    const said = texts.join('').trim();
    return {
      ok: false,
      retryable: false,
      usage,
      error: { code: 'refusal', message: said || 'the model declined to answer (stop_reason refusal)' },
    };
  }
  const text = hasTool ? JSON.stringify(toolInput ?? {}) : texts.join('');
  const truncated = message.stop_reason === 'max_tokens' || message.stop_reason === 'model_context_window_exceeded';
  const outcome: CallOutcome = { ok: true, text, usage, truncated };
  if (citations.length > 0) outcome.citations = citations;
  return outcome;
}

/** Drover's input_tokens include cached ones; Anthropic reports cache reads and writes apart. */
export function anthropicUsage(u: Partial<Message['usage']> | null | undefined): Usage {
  const cacheRead = u?.cache_read_input_tokens ?? 0;
  const cacheWrite = u?.cache_creation_input_tokens ?? 0;
  return {
    input_tokens: (u?.input_tokens ?? 0) + cacheRead + cacheWrite,
    cached_input_tokens: cacheRead,
    output_tokens: u?.output_tokens ?? 0,
    reasoning_tokens: u?.output_tokens_details?.thinking_tokens ?? 0,
    ...(cacheWrite > 0 ? { cache_write_input_tokens: cacheWrite } : {}),
  };
}

/** HTTP status of each Anthropic error type, for `status_code` of errored batch results. */
const ERROR_TYPE_STATUS: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** Error types that fail the same way on every resubmission. */
const NON_RETRYABLE_ERROR_TYPES: ReadonlySet<string> = new Set(['invalid_request_error', 'request_too_large']);

/**
 * One line of a batch's results in Drover's terms: succeeded → the message's outcome; errored →
 * a failure with the error type as code, retryable unless the request itself is invalid;
 * canceled / expired → retryable `batch_cancelled` / `batch_expired`.
 */
export function anthropicResultLine(r: MessageBatchIndividualResponse): ProviderResultLine {
  const { customId } = splitCustomId(r.custom_id);
  const result = r.result;
  switch (result.type) {
    case 'succeeded':
      return { customId, ...anthropicOutcome(result.message) };
    case 'errored': {
      const inner = (result.error as { error?: { type?: string; message?: string } } | undefined)?.error;
      const code = inner?.type ?? 'api_error';
      const error: ProviderResultLine & { ok: false } = {
        customId,
        ok: false,
        retryable: !NON_RETRYABLE_ERROR_TYPES.has(code),
        usage: null,
        error: { code, message: inner?.message ?? code },
      };
      const status = ERROR_TYPE_STATUS[code];
      if (status !== undefined) error.error.status_code = status;
      return error;
    }
    case 'canceled':
      return {
        customId,
        ok: false,
        retryable: true,
        usage: null,
        error: { code: 'batch_cancelled', message: 'the batch was cancelled before this request was processed' },
      };
    case 'expired':
      return {
        customId,
        ok: false,
        retryable: true,
        usage: null,
        error: { code: 'batch_expired', message: 'the batch expired (24 h) before this request was processed' },
      };
    default: {
      const type = String((result as { type?: unknown }).type);
      return {
        customId,
        ok: false,
        retryable: true,
        usage: null,
        error: { code: 'unknown_result', message: `unknown batch result type '${type}'` },
      };
    }
  }
}

/** Every request of a batch, whatever its state: the counts always add up to the total. */
export function batchRequestTotal(c: MessageBatch['request_counts']): number {
  return c.processing + c.succeeded + c.errored + c.canceled + c.expired;
}

/**
 * Anthropic's `in_progress → [canceling →] ended` in Drover's states. Anthropic has no batch-level
 * failure: every outcome is per request. An `ended` batch is:
 *   - `cancelled` when a cancel was initiated (`cancel_initiated_at` set), even if every request
 *     finished anyway;
 *   - else `expired` when any request expired (the 24 h limit; without a cancel the only outcomes
 *     besides succeeded/errored are expired, so the unfinished rest all expired);
 *   - else `completed` (errored requests included: they are item failures, not a batch failure).
 * Results are readable in every ended state.
 */
export function anthropicBatchState(
  b: Pick<MessageBatch, 'processing_status' | 'cancel_initiated_at' | 'request_counts'>,
): ProviderBatchState {
  switch (b.processing_status) {
    case 'in_progress':
      return 'in_progress';
    case 'canceling':
      return 'cancelling';
    case 'ended':
      if (b.cancel_initiated_at) return 'cancelled';
      if (b.request_counts.expired > 0) return 'expired';
      return 'completed';
    default:
      return 'in_progress';
  }
}

export function anthropicBatchStatus(b: MessageBatch): ProviderBatchStatus {
  const state = anthropicBatchState(b);
  return {
    id: b.id,
    state,
    terminal: TERMINAL_PROVIDER_STATES.includes(state),
    counts: { total: batchRequestTotal(b.request_counts), completed: b.request_counts.succeeded, failed: b.request_counts.errored },
  };
}

// ---------------------------------------------------------------------------------------------
// Providers

export class AnthropicBatchProvider implements BatchProvider {
  readonly name = 'anthropic' as const;
  /** Batches are scoped to the workspace of the key; a hash names it, never the key itself. */
  readonly createScope: string;

  constructor(private readonly client: Anthropic) {
    const workspace = createHash('sha256')
      .update(`${client.baseURL}\n${client.apiKey ?? ''}`)
      .digest('hex');
    this.createScope = `anthropic:${workspace.slice(0, 16)}`;
  }

  /** Requests travel inline in the create call; nothing to stage. */
  async stageInput(_jobKey: string, _requests: BatchRequest[]): Promise<null> {
    return null;
  }

  /**
   * The body (up to 256 MB) is encoded a slice at a time and streamed, rather than built by the
   * SDK as one JSON.stringify that would block the event loop for seconds.
   */
  async createBatch(jobKey: string, requests: BatchRequest[], _stagedInput: string | null = null): Promise<string> {
    const body = encodeSliced(
      requests,
      (r) => JSON.stringify({ custom_id: taggedCustomId(r.customId, jobKey), params: encodeAnthropicParams(r.request) }),
      { open: '{"requests":[', separator: ',', close: ']}' },
    );
    const batch = await this.client.post<MessageBatch>('/v1/messages/batches', {
      body,
      headers: { 'content-type': 'application/json', [JOB_KEY_HEADER]: jobKey },
    });
    return batch.id;
  }

  /**
   * Anthropic batches carry no metadata, so this looks among the batches created since
   * `createdAfter` (less a few minutes for clock skew; the list is newest first, so it stops
   * there) with the job's request count, leaving out those other jobs recorded. An ended
   * candidate is confirmed or ruled out by the job tag in its results' custom_ids; a batch still
   * running cannot be read, so one is returned only when it is the single candidate left. Creates
   * run one at a time per workspace (`createScope`), and the submit settles a lost create before
   * it makes another, so Drover's own siblings never make the answer ambiguous; a same-sized
   * batch of another client of the workspace can (null: the caller creates again).
   */
  async findBatch(jobKey: string, hint: FindBatchHint): Promise<string | null> {
    const horizon = hint.createdAfter.getTime() - CLOCK_SKEW_MS;
    const tag = jobTag(jobKey);
    const unconfirmed: string[] = [];
    for await (const batch of this.client.messages.batches.list({ limit: 100 })) {
      const created = Date.parse(batch.created_at);
      if (Number.isFinite(created) && created < horizon) break;
      if (hint.recorded?.has(batch.id) || batchRequestTotal(batch.request_counts) !== hint.requestCount) continue;
      const found = batch.processing_status === 'ended' ? await this.tagOf(batch.id) : undefined;
      if (found === tag) return batch.id;
      if (found === undefined) unconfirmed.push(batch.id);
    }
    return unconfirmed.length === 1 ? unconfirmed[0]! : null;
  }

  /** The job tag of an ended batch (from its first result line), null for a batch Drover did not tag, undefined when unreadable. */
  private async tagOf(providerBatchId: string): Promise<string | null | undefined> {
    try {
      for await (const r of await this.client.messages.batches.results(providerBatchId)) return splitCustomId(r.custom_id).tag;
      return null;
    } catch {
      return undefined;
    }
  }

  /** Batches created since `since`, newest first. They carry no job key: the reconciler goes by `provider_jobs`. */
  async *listBatches(since: Date): AsyncGenerator<ListedBatch> {
    for await (const b of this.client.messages.batches.list({ limit: 100 })) {
      const created = Date.parse(b.created_at);
      if (Number.isFinite(created) && created < since.getTime()) return;
      const state = anthropicBatchState(b);
      yield { id: b.id, state, terminal: TERMINAL_PROVIDER_STATES.includes(state), jobKey: null };
    }
  }

  async retrieve(providerBatchId: string): Promise<ProviderBatchStatus> {
    return anthropicBatchStatus(await this.client.messages.batches.retrieve(providerBatchId));
  }

  /** Streams the results JSONL (order not guaranteed); only readable once the batch has ended. */
  async *results(providerBatchId: string): AsyncGenerator<ProviderResultLine> {
    const decoder = await this.client.messages.batches.results(providerBatchId);
    for await (const r of decoder) yield anthropicResultLine(r);
  }

  /** Cancelling a batch that ended in the meantime is not an error. */
  async cancel(providerBatchId: string): Promise<void> {
    try {
      await this.client.messages.batches.cancel(providerBatchId);
    } catch (err) {
      if (err instanceof APIError && err.status === 400) {
        const b = await this.client.messages.batches.retrieve(providerBatchId);
        if (b.processing_status === 'ended') return;
      }
      throw err;
    }
  }

  classifyError(err: unknown): ProviderErrorInfo | null {
    return classifyAnthropicError(err);
  }
}

/** Anthropic Messages, one request per call. */
export class AnthropicRealtimeProvider implements RealtimeProvider {
  readonly name = 'anthropic';

  constructor(private readonly client: Anthropic) {}

  async complete(request: ChatRequest, opts: { signal?: AbortSignal } = {}): Promise<CallOutcome> {
    const message = await this.client.messages.create(encodeAnthropicParams(request), opts.signal ? { signal: opts.signal } : {});
    return anthropicOutcome(message);
  }

  classifyError(err: unknown): ProviderErrorInfo | null {
    return classifyAnthropicError(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

/** 4xx other than 408 (timeout), 409 (conflict) and 429 (rate limit) will fail the same way again. */
function isRetryableStatus(status: number): boolean {
  return status < 400 || status >= 500 || status === 408 || status === 409 || status === 429;
}

/** Keys never belong in a message that ends up in logs or Temporal history. */
function redact(s: string): string {
  return s.replace(/sk-ant-[A-Za-z0-9_-]+/g, 'sk-ant-***');
}

/**
 * Classifies an SDK error without copying request details (or the key) into the message:
 * 429 → rate limited (with the server's retry-after); 529 overloaded and 5xx, 408, 409 and
 * connection errors → unavailable, retryable; 401/403 → authentication; other 4xx → invalid
 * request, not retryable. Null for errors that are not the SDK's (and for user aborts).
 */
export function classifyAnthropicError(err: unknown): ProviderErrorInfo | null {
  if (err instanceof APIConnectionError)
    return { type: FailureType.ProviderUnavailable, retryable: true, message: redact(`Anthropic unreachable: ${err.message}`) };
  if (!(err instanceof APIError) || err.status === undefined) return null;
  const status = err.status;
  // The SDK's message already starts with the status code.
  const message = redact(`Anthropic: ${err.message}`);
  const retryAfterMs = parseRetryAfter(err.headers);
  if (status === 429) {
    const info: ProviderErrorInfo = { type: FailureType.ProviderRateLimited, retryable: true, message, status };
    if (retryAfterMs !== undefined) info.retryAfterMs = retryAfterMs;
    return info;
  }
  if (status === 401 || status === 403) return { type: FailureType.ProviderAuthentication, retryable: false, message, status };
  if (!isRetryableStatus(status)) return { type: FailureType.ProviderInvalidRequest, retryable: false, message, status };
  const info: ProviderErrorInfo = { type: FailureType.ProviderUnavailable, retryable: true, message, status };
  if (retryAfterMs !== undefined) info.retryAfterMs = retryAfterMs;
  return info;
}
