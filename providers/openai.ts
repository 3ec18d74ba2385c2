import OpenAI, { APIConnectionError, APIError, toFile } from 'openai';
import type { Usage } from '../domain/usage.js';
import { readLines } from './lines.js';
import {
  TERMINAL_PROVIDER_STATES,
  type BatchProvider,
  type ChatRequest,
  type ProviderBatchState,
  type ProviderBatchStatus,
  type ProviderErrorInfo,
  type ProviderResultLine,
} from './types.js';

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

export function encodeOpenAIBody(request: ChatRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { model: request.model, messages: request.messages };
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

  async uploadInput(jobKey: string, jsonl: Buffer): Promise<string> {
    const file = await this.client.files.create({
      file: await toFile(jsonl, `${jobKey.replace(/[^A-Za-z0-9_-]/g, '_')}.jsonl`, { type: 'application/jsonl' }),
      purpose: 'batch',
    });
    return file.id;
  }

  async findBatch(jobKey: string, createdAfter: Date): Promise<string | null> {
    const horizon = Math.floor(createdAfter.getTime() / 1000) - 3600;
    // Newest first: stop once the list is older than the key's reservation (an hour of slack).
    for await (const batch of this.client.batches.list({ limit: 100 })) {
      if (batch.metadata?.[JOB_KEY_METADATA] === jobKey) return batch.id;
      if (batch.created_at < horizon) return null;
    }
    return null;
  }

  async createBatch(jobKey: string, inputFileId: string): Promise<string> {
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

interface OutputLine {
  custom_id: string;
  response: { status_code: number; body: any } | null;
  error: { code?: string; message?: string } | null;
}

/** One line of an OpenAI output or error file, in Drover's terms. */
export function parseOutputLine(raw: string): ProviderResultLine {
  const line = JSON.parse(raw) as OutputLine;
  const customId = line.custom_id;
  if (line.response && line.response.status_code === 200) {
    const body = line.response.body;
    const choice = body?.choices?.[0];
    const usage = openAIUsage(body?.usage);
    if (choice?.message?.refusal) {
      return { customId, ok: false, retryable: false, usage, error: { code: 'refusal', message: String(choice.message.refusal) } };
    }
    return { customId, ok: true, text: choice?.message?.content ?? '', usage, truncated: choice?.finish_reason === 'length' };
  }
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
  if (err instanceof APIConnectionError) return { type: 'ProviderUnavailable', retryable: true, message: `OpenAI unreachable: ${err.message}` };
  if (!(err instanceof APIError) || err.status === undefined) return null;
  const status = err.status;
  // The SDK's message already starts with the status code.
  const message = `OpenAI: ${err.message}`;
  if (status === 429) {
    const info: ProviderErrorInfo = { type: 'ProviderRateLimited', retryable: true, message, status };
    const retryAfterMs = parseRetryAfter(err.headers);
    if (retryAfterMs !== undefined) info.retryAfterMs = retryAfterMs;
    return info;
  }
  if (status === 401 || status === 403) return { type: 'ProviderAuthentication', retryable: false, message, status };
  if (!isRetryableStatus(status)) return { type: 'ProviderInvalidRequest', retryable: false, message, status };
  return { type: 'ProviderUnavailable', retryable: true, message, status };
}

function parseRetryAfter(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}
