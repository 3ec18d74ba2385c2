import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate } from 'node:timers/promises';
import { ApiError, GoogleGenAI } from '@google/genai';
import type { Content, GenerateContentConfig, GenerateContentParameters, InlinedRequest, Operation, Part } from '@google/genai';
import type { ChatMessage, ContentPart } from '../domain/batch-spec.js';
import type { Usage } from '../domain/usage.js';
import { FailureType } from '../domain/failure-types.js';
import type { ItemError } from '../domain/responses.js';
import {
  TERMINAL_PROVIDER_STATES,
  type BatchProvider,
  type BatchRequest,
  type CallOutcome,
  type ChatRequest,
  type ListedBatch,
  type ProviderBatchState,
  type ProviderBatchStatus,
  type ProviderErrorInfo,
  type ProviderResultLine,
  type RealtimeProvider,
  JOB_KEY_HEADER,
} from './types.js';
import { encodeJsonl } from './encode-stream.js';

/**
 * Gemini Developer API (Batch Mode, generateContent, Files) through `@google/genai`.
 *
 * SDK traps this file works around (see docs in the research notes, section 3):
 *   - `batches.get` returns plain objects: inline responses have no `.text` getter, so
 *     `geminiOutcome` reads `candidates[0].content.parts[]` itself;
 *   - `batches.get` drops `batchStats` and the Operation's `error`, so `retrieve` reads the raw
 *     Operation through the generic `operations.get` (same `GET /{V}/batches/ID`);
 *   - `files.download` only writes to disk, so file results go through a temp file;
 *   - errors are `ApiError { status, message: <JSON body> }`; the retry hint is a
 *     `google.rpc.RetryInfo` detail in that body, never a header.
 */

/** Inline batch requests may total 20 MB; past this many bytes of request JSON, the input goes in a JSONL file. */
export const GEMINI_INLINE_LIMIT_BYTES = 19_000_000;

export { JOB_KEY_HEADER } from './types.js';

export interface GeminiProviderOptions {
  apiKey: string;
  /** The emulator's URL, or undefined for Google (the SDK then also honours GOOGLE_GEMINI_BASE_URL). */
  baseUrl?: string | undefined;
  /** The SDK 3.x default is `v1`. */
  apiVersion?: string | undefined;
  /** Per-attempt timeout. @default 10 minutes */
  timeoutMs?: number | undefined;
}

export function createGeminiClient(opts: GeminiProviderOptions): GoogleGenAI {
  // No `retryOptions`: the SDK then makes exactly one attempt, and Temporal is the one retrier
  // (a second one would hide failures and could create a batch twice).
  return new GoogleGenAI({
    apiKey: opts.apiKey,
    // Explicit, so GOOGLE_GENAI_USE_VERTEXAI in the environment cannot switch backends.
    vertexai: false,
    httpOptions: {
      timeout: opts.timeoutMs ?? 10 * 60_000,
      ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
      ...(opts.apiVersion ? { apiVersion: opts.apiVersion } : {}),
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Requests

/** The provider-neutral core of a request in Gemini's terms (REST names, which the SDK also uses). */
export interface GeminiEncodedRequest {
  contents: Content[];
  systemInstruction?: Content;
  /** Sampling and output settings: `maxOutputTokens`, `responseMimeType`, `responseJsonSchema`. */
  generationConfig: {
    maxOutputTokens?: number;
    responseMimeType?: string;
    responseJsonSchema?: unknown;
  };
}

/** One JSONL input line's `request`: a GenerateContentRequest without `model` (the batch names it). */
export interface GeminiBatchLineRequest {
  contents: Content[];
  systemInstruction?: Content;
  generationConfig?: GeminiEncodedRequest['generationConfig'];
}

const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
};

/** An image URL's MIME type from its path's extension; image/jpeg when it has none we know. */
export function guessImageMimeType(url: string): string {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    path = url.split(/[?#]/)[0] ?? url;
  }
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  return (ext && IMAGE_TYPES[ext]) || 'image/jpeg';
}

export function encodeGeminiPart(p: ContentPart): Part {
  if (p.type === 'text') return { text: p.text };
  if (p.type === 'image') {
    if (p.url !== undefined) return { fileData: { fileUri: p.url, mimeType: guessImageMimeType(p.url) } };
    return { inlineData: { mimeType: p.media_type ?? 'image/jpeg', data: p.data ?? '' } };
  }
  if (p.text !== undefined) return { text: p.title ? `${p.title}\n\n${p.text}` : p.text };
  if (p.data !== undefined) return { inlineData: { mimeType: p.media_type, data: p.data } };
  // Intake refuses document URLs for Gemini (MEDIA_LIMITS); encoded as a file reference all the same.
  return { fileData: { fileUri: p.url ?? '', mimeType: p.media_type } };
}

function partsOf(m: ChatMessage): Part[] {
  return typeof m.content === 'string' ? [{ text: m.content }] : m.content.map(encodeGeminiPart);
}

/**
 * Drover's chat request in Gemini's terms: system messages become `systemInstruction` (their parts
 * in order), user turns role `user`, assistant turns role `model`. Pure.
 */
export function encodeGeminiRequest(request: ChatRequest): GeminiEncodedRequest {
  const system: Part[] = [];
  const contents: Content[] = [];
  for (const m of request.messages) {
    if (m.role === 'system') system.push(...partsOf(m));
    else contents.push({ role: m.role === 'assistant' ? 'model' : 'user', parts: partsOf(m) });
  }
  const generationConfig: GeminiEncodedRequest['generationConfig'] = {};
  if (request.max_output_tokens) generationConfig.maxOutputTokens = request.max_output_tokens;
  if (request.response_format?.type === 'json_schema') {
    generationConfig.responseMimeType = 'application/json';
    // Plain JSON Schema, as Drover takes it (not the OpenAPI-subset `responseSchema`).
    generationConfig.responseJsonSchema = request.response_format.json_schema.schema;
  }
  return { contents, ...(system.length > 0 ? { systemInstruction: { parts: system } } : {}), generationConfig };
}

/** For `models.generateContent` (and, minus `model`, an inline batch request). Pure. */
export function toGenerateContentParameters(request: ChatRequest): GenerateContentParameters & { config: GenerateContentConfig } {
  const { contents, systemInstruction, generationConfig } = encodeGeminiRequest(request);
  const config: GenerateContentConfig = { ...generationConfig };
  if (systemInstruction) config.systemInstruction = systemInstruction;
  return { model: request.model, contents, config };
}

/** The `request` of a JSONL input line, in REST field names. Pure. */
export function toBatchLineRequest(request: ChatRequest): GeminiBatchLineRequest {
  const { contents, systemInstruction, generationConfig } = encodeGeminiRequest(request);
  return {
    contents,
    ...(systemInstruction ? { systemInstruction } : {}),
    ...(Object.keys(generationConfig).length > 0 ? { generationConfig } : {}),
  };
}

/** An SDK `InlinedRequest`; `metadata.key` comes back with its response. */
export function toInlinedRequest(r: BatchRequest): InlinedRequest {
  const { contents, config } = toGenerateContentParameters(r.request);
  return { contents, config, metadata: { key: r.customId } };
}

/** One line of a JSONL input file, without its newline. */
export function encodeBatchLine(r: BatchRequest): string {
  return JSON.stringify({ key: r.customId, request: toBatchLineRequest(r.request) });
}

/**
 * About what the inline requests weigh on the wire (REST JSON plus the key), summed without one
 * big string. With `stopAbove`, it stops counting once past it: a 200 MB chunk is not encoded
 * whole just to learn that it goes in a file.
 */
export function inlineRequestBytes(requests: readonly BatchRequest[], stopAbove = Number.POSITIVE_INFINITY): number {
  let bytes = 2;
  for (const r of requests) {
    bytes += Buffer.byteLength(JSON.stringify({ request: toBatchLineRequest(r.request), metadata: { key: r.customId } })) + 1;
    if (bytes > stopAbove) break;
  }
  return bytes;
}

/** Whether the inline requests weigh more than `limit`, measured a slice at a time with turns of the event loop between. */
async function exceedsInlineLimit(requests: readonly BatchRequest[], limit: number): Promise<boolean> {
  let bytes = 0;
  for (let i = 0; i < requests.length && bytes <= limit; i += 1000) {
    bytes += inlineRequestBytes(requests.slice(i, i + 1000), limit - bytes);
    await setImmediate();
  }
  return bytes > limit;
}

// ---------------------------------------------------------------------------------------------
// Responses

/** Finish reasons that mean the answer was withheld for its content: retrying will not help. */
const REFUSAL_FINISH = new Set(['SAFETY', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT']);

export function geminiUsage(u: any): Usage {
  const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    input_tokens: n(u?.promptTokenCount) + n(u?.toolUsePromptTokenCount),
    cached_input_tokens: n(u?.cachedContentTokenCount),
    output_tokens: n(u?.candidatesTokenCount) + n(u?.thoughtsTokenCount),
    reasoning_tokens: n(u?.thoughtsTokenCount),
  };
}

/**
 * A GenerateContentResponse (an SDK instance or a plain object from a batch) in Drover's terms.
 * Text is the first candidate's non-thought text parts joined. Pure.
 */
export function geminiOutcome(response: any): CallOutcome {
  const usage = geminiUsage(response?.usageMetadata);
  const blockReason = response?.promptFeedback?.blockReason;
  if (blockReason) {
    const detail = response.promptFeedback.blockReasonMessage ? `: ${response.promptFeedback.blockReasonMessage}` : '';
    return { ok: false, retryable: false, usage, error: { code: 'blocked', message: `the prompt was blocked (${blockReason})${detail}` } };
  }
  const candidate = response?.candidates?.[0];
  if (!candidate)
    return { ok: false, retryable: true, usage, error: { code: 'empty_response', message: 'the response has no candidates' } };
  const finishReason: string | undefined = candidate.finishReason;
  if (finishReason && REFUSAL_FINISH.has(finishReason)) {
    return {
      ok: false,
      retryable: false,
      usage,
      error: { code: 'refusal', message: `the model withheld its answer (finishReason ${finishReason})` },
    };
  }
  const parts: any[] = Array.isArray(candidate.content?.parts) ? candidate.content.parts : [];
  const text = parts
    .filter((p) => p && p.thought !== true && typeof p.text === 'string')
    .map((p) => p.text as string)
    .join('');
  if (finishReason === 'RECITATION' && text === '') {
    // Sampling again may well not recite; Drover's retries decide.
    return {
      ok: false,
      retryable: true,
      usage,
      error: { code: 'recitation', message: 'the model withheld its answer (finishReason RECITATION)' },
    };
  }
  return { ok: true, text, usage, truncated: finishReason === 'MAX_TOKENS' };
}

const GRPC_NAMES: Record<number, [name: string, http: number]> = {
  1: ['CANCELLED', 499],
  2: ['UNKNOWN', 500],
  3: ['INVALID_ARGUMENT', 400],
  4: ['DEADLINE_EXCEEDED', 504],
  5: ['NOT_FOUND', 404],
  6: ['ALREADY_EXISTS', 409],
  7: ['PERMISSION_DENIED', 403],
  8: ['RESOURCE_EXHAUSTED', 429],
  9: ['FAILED_PRECONDITION', 400],
  10: ['ABORTED', 409],
  11: ['OUT_OF_RANGE', 400],
  12: ['UNIMPLEMENTED', 501],
  13: ['INTERNAL', 500],
  14: ['UNAVAILABLE', 503],
  15: ['DATA_LOSS', 500],
  16: ['UNAUTHENTICATED', 401],
};

/**
 * A per-request `google.rpc.Status` (`{code, message}`; `code` is a gRPC code, or an HTTP status
 * from some servers) as a failed outcome. Only INVALID_ARGUMENT (or an HTTP 4xx that is not
 * transient) is final: the same request would fail the same way.
 */
export function geminiStatusFailure(status: any): Extract<CallOutcome, { ok: false }> {
  const raw = Number(status?.code);
  const code = Number.isInteger(raw) ? raw : 2;
  const message = typeof status?.message === 'string' && status.message !== '' ? status.message : 'the request failed';
  const error: ItemError = { code: 'UNKNOWN', message };
  let retryable = true;
  if (code >= 100) {
    error.code = `http_${code}`;
    error.status_code = code;
    retryable = isRetryableStatus(code);
  } else {
    const [name, http] = GRPC_NAMES[code] ?? ['UNKNOWN', 500];
    error.code = name;
    error.status_code = http;
    retryable = code !== 3;
  }
  return { ok: false, retryable, usage: null, error };
}

/** An entry of `dest.inlinedResponses` (SDK `InlinedResponse`) as a failed or successful outcome. */
function inlinedOutcome(entry: any): CallOutcome {
  if (entry?.error) return geminiStatusFailure(entry.error);
  if (entry?.response) return geminiOutcome(entry.response);
  return {
    ok: false,
    retryable: true,
    usage: null,
    error: { code: 'empty_response', message: 'the batch entry has neither response nor error' },
  };
}

/**
 * Inline batch results, keyed by `metadata.key`. They come back in input order, so an entry
 * without a key takes the id at its position in `customIds` when the caller knows the order;
 * otherwise it is skipped (Drover then treats that request as unanswered and resubmits it). Pure.
 */
export function inlinedResultLines(entries: readonly unknown[], customIds?: readonly string[]): ProviderResultLine[] {
  const out: ProviderResultLine[] = [];
  entries.forEach((entry, i) => {
    const key = (entry as any)?.metadata?.key;
    const customId = typeof key === 'string' && key !== '' ? key : customIds?.[i];
    if (customId === undefined) return;
    out.push({ customId, ...inlinedOutcome(entry) });
  });
  return out;
}

/** One line of a responses file (`{key, response}` or `{key, error}`); null without a key. Pure. */
export function parseGeminiOutputLine(raw: string): ProviderResultLine | null {
  const line = JSON.parse(raw) as any;
  const key = line?.key;
  if (typeof key !== 'string' || key === '') return null;
  return { customId: key, ...inlinedOutcome(line) };
}

// ---------------------------------------------------------------------------------------------
// Batch status

const STATE_MAP: Record<string, ProviderBatchState> = {
  UNSPECIFIED: 'validating',
  QUEUED: 'validating',
  PENDING: 'validating',
  RUNNING: 'in_progress',
  PAUSED: 'in_progress',
  UPDATING: 'in_progress',
  SUCCEEDED: 'completed',
  PARTIALLY_SUCCEEDED: 'completed',
  FAILED: 'failed',
  CANCELLING: 'cancelling',
  CANCELLED: 'cancelled',
  EXPIRED: 'expired',
};

/**
 * `BATCH_STATE_*` (the wire) or `JOB_STATE_*` (the SDK's BatchJob) as Drover's state. An unknown
 * state counts as still running, so Drover keeps polling rather than giving up on a live batch.
 */
export function geminiBatchState(state: string | undefined): ProviderBatchState {
  const bare = (state ?? '').replace(/^(BATCH|JOB)_STATE_/, '');
  return STATE_MAP[bare] ?? 'in_progress';
}

const int64 = (v: unknown): number => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
};

/**
 * The raw batch Operation (`{name, metadata: {state, batchStats, …}, done, error}`) as Drover's
 * status. `batchStats` counts are int64 strings; `completed` is the successful requests. Pure.
 */
export function geminiBatchStatus(op: any): ProviderBatchStatus {
  const meta = op?.metadata ?? {};
  const state = geminiBatchState(meta.state ?? op?.state);
  const stats = meta.batchStats ?? {};
  const status: ProviderBatchStatus = {
    id: String(op?.name ?? meta.name ?? ''),
    state,
    terminal: TERMINAL_PROVIDER_STATES.includes(state),
    counts: { total: int64(stats.requestCount), completed: int64(stats.successfulRequestCount), failed: int64(stats.failedRequestCount) },
  };
  const err = op?.error;
  if (err && (err.message || err.code))
    status.error = `${err.status ?? GRPC_NAMES[Number(err.code)]?.[0] ?? err.code ?? 'error'}: ${err.message ?? ''}`.trim();
  return status;
}

function checkBatchName(name: string): void {
  if (!/^batches\/[^/]+$/.test(name)) throw new Error(`not a Gemini batch name (batches/ID): ${name}`);
}

/** An Operation whose `_fromAPIResponse` keeps the body as it came: what `operations.get` hands back. */
function rawOperation(name: string): Operation<unknown> {
  const op: Operation<unknown> = {
    name,
    _fromAPIResponse: ({ apiResponse }) => ({ ...apiResponse, _fromAPIResponse: op._fromAPIResponse }),
  };
  return op;
}

// ---------------------------------------------------------------------------------------------
// Providers

export interface GeminiBatchProviderOptions {
  /** Inline requests heavier than this go in an uploaded JSONL file. @default GEMINI_INLINE_LIMIT_BYTES */
  inlineLimitBytes?: number;
  /** Where responses files are downloaded to (and deleted from). @default os.tmpdir() */
  tmpDir?: string;
}

export class GeminiBatchProvider implements BatchProvider {
  readonly name = 'gemini' as const;
  private readonly inlineLimitBytes: number;
  private readonly tmpDir: string;

  constructor(
    private readonly ai: GoogleGenAI,
    opts: GeminiBatchProviderOptions = {},
  ) {
    this.inlineLimitBytes = opts.inlineLimitBytes ?? GEMINI_INLINE_LIMIT_BYTES;
    this.tmpDir = opts.tmpDir ?? tmpdir();
  }

  /**
   * Up to the inline limit the requests travel in `createBatch` (null). Beyond it they are
   * uploaded as JSONL (free, so a repeated upload after a crash costs nothing) and the file's
   * `files/…` name is returned.
   */
  async stageInput(jobKey: string, requests: BatchRequest[]): Promise<string | null> {
    if (!(await exceedsInlineLimit(requests, this.inlineLimitBytes))) return null;
    // Encoded a slice at a time into a temp file, which the SDK uploads in chunks from disk: the
    // event loop keeps turning and the input is never one string in memory.
    const path = join(this.tmpDir, `drover-gemini-input-${randomUUID()}.jsonl`);
    try {
      await pipeline(Readable.from(encodeJsonl(requests, encodeBatchLine)), createWriteStream(path));
      const file = await this.ai.files.upload({ file: path, config: { mimeType: 'jsonl', displayName: jobKey } });
      if (!file.name) throw new Error('the Gemini upload returned no file name');
      return file.name;
    } finally {
      await rm(path, { force: true });
    }
  }

  /** One attempt; `displayName` is the job key, which `findBatch` looks for. Returns `batches/…`. */
  async createBatch(jobKey: string, requests: BatchRequest[], stagedInput: string | null): Promise<string> {
    const model = requests[0]?.request.model;
    if (!model) throw new Error('a Gemini batch needs at least one request (its model names the batch model)');
    const job = await this.ai.batches.create({
      model,
      src: stagedInput ?? requests.map(toInlinedRequest),
      config: { displayName: jobKey, httpOptions: { headers: { [JOB_KEY_HEADER]: jobKey } } },
    });
    if (!job.name) throw new Error('the Gemini batch create returned no name');
    return job.name;
  }

  /**
   * Looks through the batch list for `displayName === jobKey`. When the list proves newest first,
   * it stops at batches an hour older than the key's reservation; otherwise it reads every page.
   */
  async findBatch(jobKey: string, hint: { createdAfter: Date; requestCount?: number }): Promise<string | null> {
    const horizon = hint.createdAfter.getTime() - 3600_000;
    let previous = Number.POSITIVE_INFINITY;
    let newestFirst = true;
    for await (const job of await this.ai.batches.list({ config: { pageSize: 100 } })) {
      if (job.displayName === jobKey && job.name) return job.name;
      const created = job.createTime ? Date.parse(job.createTime) : Number.NaN;
      if (!Number.isFinite(created)) continue;
      if (created > previous) newestFirst = false;
      previous = created;
      if (newestFirst && created < horizon) return null;
    }
    return null;
  }

  /** Batches created since `since`; the list's order is not relied on, so every page is read. */
  async *listBatches(since: Date): AsyncGenerator<ListedBatch> {
    for await (const job of await this.ai.batches.list({ config: { pageSize: 100 } })) {
      const created = job.createTime ? Date.parse(job.createTime) : Number.NaN;
      if (!job.name || (Number.isFinite(created) && created < since.getTime())) continue;
      const state = geminiBatchState(job.state);
      yield { id: job.name, state, terminal: TERMINAL_PROVIDER_STATES.includes(state), jobKey: job.displayName ?? null };
    }
  }

  /** Reads the raw Operation, because the SDK's BatchJob drops `batchStats` and the failure reason. */
  async retrieve(providerBatchId: string): Promise<ProviderBatchStatus> {
    checkBatchName(providerBatchId);
    const op = await this.ai.operations.get({ operation: rawOperation(providerBatchId) });
    return geminiBatchStatus(op);
  }

  /**
   * Inline: `dest.inlinedResponses` by `metadata.key` (pass `customIds` in input order to place
   * entries that lack it). File: the responses file, downloaded to a temp file, read line by line,
   * then deleted. A cancelled or expired batch has entries only for the requests that ran.
   */
  async *results(providerBatchId: string, customIds?: readonly string[]): AsyncGenerator<ProviderResultLine> {
    const job = await this.ai.batches.get({ name: providerBatchId });
    const dest = job.dest;
    if (dest?.inlinedResponses) {
      yield* inlinedResultLines(dest.inlinedResponses, customIds);
      return;
    }
    if (!dest?.fileName) return;
    const path = join(this.tmpDir, `drover-gemini-${randomUUID()}.jsonl`);
    try {
      await this.ai.files.download({ file: dest.fileName, downloadPath: path });
      const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
      for await (const raw of lines) {
        if (!raw.trim()) continue;
        const line = parseGeminiOutputLine(raw);
        if (line) yield line;
      }
    } finally {
      await rm(path, { force: true });
    }
  }

  /** Gemini has no cancelling state: the batch is CANCELLED at once, keeping what already ran. */
  async cancel(providerBatchId: string): Promise<void> {
    await this.ai.batches.cancel({ name: providerBatchId });
  }

  classifyError(err: unknown): ProviderErrorInfo | null {
    return classifyGeminiError(err);
  }
}

/** `models.generateContent`, one request per call. */
export class GeminiRealtimeProvider implements RealtimeProvider {
  readonly name = 'gemini';

  constructor(private readonly ai: GoogleGenAI) {}

  async complete(request: ChatRequest, opts: { signal?: AbortSignal } = {}): Promise<CallOutcome> {
    const params = toGenerateContentParameters(request);
    const response = await this.ai.models.generateContent({
      ...params,
      config: { ...params.config, ...(opts.signal ? { abortSignal: opts.signal } : {}) },
    });
    return geminiOutcome(response);
  }

  classifyError(err: unknown): ProviderErrorInfo | null {
    return classifyGeminiError(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

/** 4xx other than 408 (timeout), 409 (conflict) and 429 (rate limit) will fail the same way again. */
export function isRetryableStatus(status: number): boolean {
  return status < 400 || status >= 500 || status === 408 || status === 409 || status === 429;
}

/** A protobuf Duration as JSON (`"30s"`, `"1.5s"`, `"0.250s"`) in ms; undefined if it is not one. */
export function parseRetryDelay(delay: unknown): number | undefined {
  if (typeof delay !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)s\s*$/.exec(delay);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

interface GoogleErrorBody {
  code?: number;
  message?: string;
  status?: string;
  details?: Array<Record<string, unknown>>;
}

/** The `error` object of an ApiError's JSON message, or null when the message is not one. */
export function parseGeminiErrorBody(message: string): GoogleErrorBody | null {
  try {
    const body = JSON.parse(message) as { error?: GoogleErrorBody } | null;
    return body && typeof body.error === 'object' && body.error !== null ? body.error : null;
  } catch {
    return null;
  }
}

/** The wait a 429 asks for: its RetryInfo detail, else "Please retry in 12.3s." in the message. */
export function geminiRetryAfterMs(body: GoogleErrorBody | null): number | undefined {
  for (const d of body?.details ?? []) {
    if (String(d['@type'] ?? '').endsWith('google.rpc.RetryInfo')) {
      const ms = parseRetryDelay(d.retryDelay);
      if (ms !== undefined) return ms;
    }
  }
  const m = /retry in (\d+(?:\.\d+)?)\s*(ms|s)\b/i.exec(body?.message ?? '');
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (m[2]?.toLowerCase() === 'ms' ? 1 : 1000));
}

/** Google API keys (AIza…) and `key=` query parameters, should a message ever carry one. */
function redact(text: string): string {
  return text.replace(/AIza[0-9A-Za-z_-]{20,}/g, '[redacted]').replace(/([?&]key=)[^&\s"']+/gi, '$1[redacted]');
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // undici: `TypeError: fetch failed` with the socket error as its cause; the SDK's own timeout
  // aborts the fetch (AbortError / TimeoutError).
  if (err.name === 'TypeError' && err.message === 'fetch failed') return true;
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return true;
  const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (NETWORK_CODES.has(code) || code.startsWith('UND_ERR_'));
}

/**
 * How a failed SDK call should be retried: 429 → ProviderRateLimited (with RetryInfo's delay),
 * 401/403 → ProviderAuthentication, other 4xx but 408/409 → ProviderInvalidRequest (final),
 * 5xx, 408, 409 and network failures → ProviderUnavailable. Null for errors that are not the SDK's.
 */
export function classifyGeminiError(err: unknown): ProviderErrorInfo | null {
  if (err instanceof ApiError && typeof err.status === 'number') {
    const status = err.status;
    const body = parseGeminiErrorBody(err.message);
    const text = body ? `${status}${body.status ? ` ${body.status}` : ''}: ${body.message ?? ''}` : `${status}: ${err.message}`;
    const message = redact(`Gemini ${text}`.trim()).slice(0, 2000);
    if (status === 429) {
      const info: ProviderErrorInfo = { type: FailureType.ProviderRateLimited, retryable: true, message, status };
      const retryAfterMs = geminiRetryAfterMs(body);
      if (retryAfterMs !== undefined) info.retryAfterMs = retryAfterMs;
      return info;
    }
    if (status === 401 || status === 403) return { type: FailureType.ProviderAuthentication, retryable: false, message, status };
    if (!isRetryableStatus(status)) return { type: FailureType.ProviderInvalidRequest, retryable: false, message, status };
    return { type: FailureType.ProviderUnavailable, retryable: true, message, status };
  }
  if (isNetworkError(err)) {
    const e = err as Error;
    const cause = (e.cause as { code?: unknown; message?: unknown } | undefined) ?? undefined;
    const why = typeof cause?.code === 'string' ? `${e.message} (${cause.code})` : e.message;
    return { type: FailureType.ProviderUnavailable, retryable: true, message: redact(`Gemini unreachable: ${why}`) };
  }
  return null;
}
