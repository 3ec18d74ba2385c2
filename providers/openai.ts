import OpenAI, { APIConnectionError, APIError, toStreamingFile } from 'openai';
import type { Usage } from '../domain/usage.js';
import { FailureType } from '../domain/failure-types.js';
import { encodeJsonl } from './encode-stream.js';
import { readLines } from './lines.js';
import type { ChatMessage, ContentPart } from '../domain/batch-spec.js';
import {
  TERMINAL_PROVIDER_STATES,
  type BatchProvider,
  type BatchRequest,
  type CallOutcome,
  type ListedBatch,
  type RealtimeProvider,
  type ChatRequest,
  type ProviderBatchState,
  type ProviderBatchStatus,
  type ProviderErrorInfo,
  type ProviderResultLine,
} from './types.js';
import { parseRetryAfter } from './retry-after.js';

const ENDPOINT = '/v1/chat/completions';
/** The provider-side mark that lets a retried submit find the batch it already created. */
export const JOB_KEY_METADATA = 'drover_key';

export interface OpenAIProviderOptions {
  apiKey: string;
  baseURL?: string | undefined;
}

export function createOpenAIClient(opts: OpenAIProviderOptions): OpenAI {
  // maxRetries 0: Temporal retries activities; a second retrier would hide failures and could
  // re-POST a create.
  return new OpenAI({ apiKey: opts.apiKey, baseURL: opts.baseURL, maxRetries: 0, timeout: 10 * 60_000 });
}

/** Drover's content parts in Chat Completions form: images as URLs (data: for base64), PDFs as files. */
export function encodeOpenAIMessage(m: ChatMessage): Record<string, unknown> {
  if (typeof m.content === 'string') return { role: m.role, content: m.content };
  return { role: m.role, content: m.content.map(encodeOpenAIPart) };
}

function encodeOpenAIPart(p: ContentPart): Record<string, unknown> {
  if (p.type === 'text') return { type: 'text', text: p.text };
  if (p.type === 'image') return { type: 'image_url', image_url: { url: p.url ?? `data:${p.media_type};base64,${p.data}` } };
  if (p.text !== undefined) return { type: 'text', text: p.title ? `${p.title}\n\n${p.text}` : p.text };
  if (p.data !== undefined)
    return { type: 'file', file: { filename: p.title ?? 'document.pdf', file_data: `data:${p.media_type};base64,${p.data}` } };
  // Intake refuses document URLs for OpenAI (MEDIA_LIMITS), so this is never sent.
  throw new Error('OpenAI chat completions take PDF documents as data, not URLs');
}

export function encodeOpenAIBody(request: ChatRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { model: request.model, messages: request.messages.map(encodeOpenAIMessage) };
  if (request.response_format) body.response_format = request.response_format;
  if (request.max_output_tokens) body.max_completion_tokens = request.max_output_tokens;
  return body;
}

export class OpenAIBatchProvider implements BatchProvider {
  readonly name = 'openai' as const;

  constructor(private readonly client: OpenAI) {}

  encodeLine(customId: string, request: ChatRequest): string {
    return JSON.stringify({ custom_id: customId, method: 'POST', url: ENDPOINT, body: encodeOpenAIBody(request) });
  }

  /**
   * The batch input is a JSONL file, encoded a slice at a time and streamed into the upload, so a
   * 200 MB chunk neither blocks the event loop nor sits in memory whole. Uploads are free, so a
   * repeated upload after a crash costs nothing.
   */
  async stageInput(jobKey: string, requests: BatchRequest[]): Promise<string> {
    const jsonl = encodeJsonl(requests, (r) => this.encodeLine(r.customId, r.request));
    const file = await this.client.files.create({
      file: toStreamingFile(jsonl, `${jobKey.replace(/[^A-Za-z0-9_-]/g, '_')}.jsonl`, { type: 'application/jsonl' }),
      purpose: 'batch',
    });
    return file.id;
  }

  async findBatch(jobKey: string, hint: { createdAfter: Date }): Promise<string | null> {
    const horizon = Math.floor(hint.createdAfter.getTime() / 1000) - 3600;
    // Newest first: stop once the list is older than the key's reservation (an hour of slack).
    for await (const batch of this.client.batches.list({ limit: 100 })) {
      if (batch.metadata?.[JOB_KEY_METADATA] === jobKey) return batch.id;
      if (batch.created_at < horizon) return null;
    }
    return null;
  }

  /** Batches created since `since`, newest first; each names the job key it carries, if any. */
  async *listBatches(since: Date): AsyncGenerator<ListedBatch> {
    const horizon = Math.floor(since.getTime() / 1000);
    for await (const b of this.client.batches.list({ limit: 100 })) {
      if (b.created_at < horizon) return;
      const state = b.status as ProviderBatchState;
      const key = b.metadata?.[JOB_KEY_METADATA];
      yield { id: b.id, state, terminal: TERMINAL_PROVIDER_STATES.includes(state), jobKey: typeof key === 'string' ? key : null };
    }
  }

  async createBatch(jobKey: string, _requests: BatchRequest[], inputFileId: string | null): Promise<string> {
    if (!inputFileId) throw new Error('an OpenAI batch needs its staged input file');
    const batch = await this.client.batches.create({
      input_file_id: inputFileId,
      endpoint: ENDPOINT,
      completion_window: '24h',
      metadata: { [JOB_KEY_METADATA]: jobKey },
    });
    return batch.id;
  }

  async retrieve(providerBatchId: string): Promise<ProviderBatchStatus> {
    const b = await this.client.batches.retrieve(providerBatchId);
    const state = b.status as ProviderBatchState;
    const status: ProviderBatchStatus = {
      id: b.id,
      state,
      terminal: TERMINAL_PROVIDER_STATES.includes(state),
      counts: { total: b.request_counts?.total ?? 0, completed: b.request_counts?.completed ?? 0, failed: b.request_counts?.failed ?? 0 },
    };
    const errors = b.errors?.data ?? [];
    if (errors.length > 0) {
      status.error = errors
        .slice(0, 5)
        .map((e) => `${e.code ?? 'error'}${e.line ? ` (line ${e.line})` : ''}: ${e.message ?? ''}`)
        .join('; ');
    }
    return status;
  }

  async *results(providerBatchId: string): AsyncGenerator<ProviderResultLine> {
    const b = await this.client.batches.retrieve(providerBatchId);
    for (const fileId of [b.output_file_id, b.error_file_id]) {
      if (!fileId) continue;
      const res = await this.client.files.content(fileId);
      for await (const line of readLines(res.body)) yield parseOutputLine(line);
    }
  }

  async cancel(providerBatchId: string): Promise<void> {
    await this.client.batches.cancel(providerBatchId);
  }

  classifyError(err: unknown): ProviderErrorInfo | null {
    return classifyOpenAIError(err);
  }
}

/** Chat Completions, one request per call: OpenAI itself or any OpenAI-compatible server. */
export class OpenAIRealtimeProvider implements RealtimeProvider {
  constructor(
    private readonly client: OpenAI,
    readonly name = 'openai',
  ) {}

  async complete(request: ChatRequest, opts: { signal?: AbortSignal } = {}): Promise<CallOutcome> {
    const body = (await this.client.chat.completions.create(
      encodeOpenAIBody(request) as never,
      opts.signal ? { signal: opts.signal } : {},
    )) as unknown;
    return chatCompletionOutcome(body);
  }

  classifyError(err: unknown): ProviderErrorInfo | null {
    return classifyOpenAIError(err);
  }
}

/** A ChatCompletion body, from a batch output line or a realtime response, in Drover's terms. */
export function chatCompletionOutcome(body: any): CallOutcome {
  const choice = body?.choices?.[0];
  const usage = openAIUsage(body?.usage);
  if (choice?.message?.refusal) {
    return { ok: false, retryable: false, usage, error: { code: 'refusal', message: String(choice.message.refusal) } };
  }
  return { ok: true, text: choice?.message?.content ?? '', usage, truncated: choice?.finish_reason === 'length' };
}

interface OutputLine {
  custom_id: string;
  response: { status_code: number; body: any } | null;
  error: { code?: string; message?: string } | null;
}

/** One line of an OpenAI output or error file, in Drover's terms. */
export function parseOutputLine(raw: string): ProviderResultLine {
  const line = JSON.parse(raw) as OutputLine;
  const customId = line.custom_id;
  if (line.response && line.response.status_code === 200) return { customId, ...chatCompletionOutcome(line.response.body) };
  if (line.response) {
    const status = line.response.status_code;
    const err = line.response.body?.error ?? {};
    return {
      customId,
      ok: false,
      retryable: isRetryableStatus(status),
      usage: null,
      error: { code: err.code ?? err.type ?? `http_${status}`, message: err.message ?? `HTTP ${status}`, status_code: status },
    };
  }
  const code = line.error?.code ?? 'unknown_error';
  return { customId, ok: false, retryable: true, usage: null, error: { code, message: line.error?.message ?? code } };
}

export function openAIUsage(u: any): Usage {
  return {
    input_tokens: u?.prompt_tokens ?? 0,
    cached_input_tokens: u?.prompt_tokens_details?.cached_tokens ?? 0,
    output_tokens: u?.completion_tokens ?? 0,
    reasoning_tokens: u?.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

/** 4xx other than 408 (timeout), 409 (conflict) and 429 (rate limit) will fail the same way again. */
export function isRetryableStatus(status: number): boolean {
  return status < 400 || status >= 500 || status === 408 || status === 409 || status === 429;
}

/** Classifies an SDK error without copying request details (or the key) into the message. */
export function classifyOpenAIError(err: unknown): ProviderErrorInfo | null {
  if (err instanceof APIConnectionError)
    return { type: FailureType.ProviderUnavailable, retryable: true, message: `OpenAI unreachable: ${err.message}` };
  if (!(err instanceof APIError) || err.status === undefined) return null;
  const status = err.status;
  // The SDK's message already starts with the status code.
  const message = `OpenAI: ${err.message}`;
  if (status === 429) {
    const info: ProviderErrorInfo = { type: FailureType.ProviderRateLimited, retryable: true, message, status };
    const retryAfterMs = parseRetryAfter(err.headers);
    if (retryAfterMs !== undefined) info.retryAfterMs = retryAfterMs;
    return info;
  }
  if (status === 401 || status === 403) return { type: FailureType.ProviderAuthentication, retryable: false, message, status };
  if (!isRetryableStatus(status)) return { type: FailureType.ProviderInvalidRequest, retryable: false, message, status };
  return { type: FailureType.ProviderUnavailable, retryable: true, message, status };
}
