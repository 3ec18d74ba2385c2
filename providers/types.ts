import type { ChatMessage, ResponseFormat } from '../domain/batch-spec.js';
import type { Usage } from '../domain/usage.js';
import type { ItemError } from '../domain/responses.js';
import type { ProviderFailureType } from '../domain/failure-types.js';
import type { ProviderName } from '../domain/provider-catalog.js';

/**
 * The request header that names a Drover job key on batch creation. Providers ignore unknown
 * headers; the emulator counts creates per value (`stats().batches_by_key`).
 */
export const JOB_KEY_HEADER = 'x-drover-key';

/** One model call in provider-neutral terms; each provider encodes it in its own wire format. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  response_format?: ResponseFormat;
  max_output_tokens?: number;
  /** Ask for citations on document parts (Anthropic); other providers ignore it. */
  citations?: boolean;
}

/** A request with the id its answer comes back under (Drover uses the item's seq). */
export interface BatchRequest {
  customId: string;
  request: ChatRequest;
}

/** Drover's view of a provider batch's lifecycle, whatever the provider calls its states. */
export type ProviderBatchState =
  'validating' | 'in_progress' | 'finalizing' | 'completed' | 'failed' | 'expired' | 'cancelling' | 'cancelled';

export const TERMINAL_PROVIDER_STATES: readonly ProviderBatchState[] = ['completed', 'failed', 'expired', 'cancelled'];

export interface ProviderBatchStatus {
  id: string;
  state: ProviderBatchState;
  terminal: boolean;
  counts: { total: number; completed: number; failed: number };
  /** Why the whole provider batch failed (validation errors), when it did. */
  error?: string;
}

/** A provider batch as its list shows it, for the orphan reconciler. */
export interface ListedBatch {
  id: string;
  state: ProviderBatchState;
  terminal: boolean;
  /** The Drover job key the batch carries (OpenAI metadata, Gemini display name); null when it carries none. */
  jobKey: string | null;
}

/** What `findBatch` goes on besides the key. */
export interface FindBatchHint {
  /** When the job was marked `creating`: the lost batch was created after this. */
  createdAfter: Date;
  requestCount: number;
  /** Provider batch ids other jobs recorded: never the one looked for. */
  recorded?: ReadonlySet<string>;
}

/** A source a citation points into, as the provider reported it (Anthropic's char/page locations). */
export type Citation = Record<string, unknown> & { type: string; cited_text?: string };

/** The outcome of one model call, from a batch result line or a realtime response. */
export type CallOutcome =
  | { ok: true; text: string; usage: Usage; truncated: boolean; citations?: Citation[] }
  | { ok: false; error: ItemError; retryable: boolean; usage: Usage | null };

export type ProviderResultLine = CallOutcome & { customId: string };

/**
 * A provider's native batch API. Implementations use the provider's official SDK with its own
 * retries off: Temporal is the one retrier, so every call here is a single attempt.
 *
 * Exactly once: the submit activity stages the input (free), records it, marks the job
 * `creating`, then calls `createBatch` (where money is spent) and records the id. A retry that
 * finds a job still `creating` asks `findBatch` before it would create another.
 */
export interface BatchProvider {
  readonly name: ProviderName;
  /**
   * Set when the provider keeps no mark of the job on its batches (Anthropic has no metadata): a
   * secret-free name of the workspace (provider plus a hash of key and base URL). Creates under
   * one scope run one at a time, so a lost one is never confused with a sibling's.
   */
  readonly createScope?: string;
  /**
   * Puts the input where the provider reads it (a file for OpenAI, for Gemini above its inline
   * limit) and returns its reference; null when requests travel inline in `createBatch`.
   */
  stageInput(jobKey: string, requests: BatchRequest[]): Promise<string | null>;
  /** Creates the provider batch, marked with `jobKey` where the provider's API allows. */
  createBatch(jobKey: string, requests: BatchRequest[], stagedInput: string | null): Promise<string>;
  /** Finds a batch this key created earlier (a crash between create and record), or null. */
  findBatch(jobKey: string, hint: FindBatchHint): Promise<string | null>;
  /** The provider's batches created since `since` (newest first), for the orphan reconciler. */
  listBatches(since: Date): AsyncIterable<ListedBatch>;
  retrieve(providerBatchId: string): Promise<ProviderBatchStatus>;
  results(providerBatchId: string): AsyncIterable<ProviderResultLine>;
  cancel(providerBatchId: string): Promise<void>;
  /** How a failed call of this provider's SDK should be retried; null for errors not its own. */
  classifyError(err: unknown): ProviderErrorInfo | null;
}

/**
 * A provider's synchronous API, one request per call (OpenAI chat completions and any
 * OpenAI-compatible server, Anthropic messages, Gemini generateContent). SDK retries off.
 */
export interface RealtimeProvider {
  readonly name: string;
  complete(request: ChatRequest, opts?: { signal?: AbortSignal }): Promise<CallOutcome>;
  classifyError(err: unknown): ProviderErrorInfo | null;
}

/** The providers a worker has configured, by name; a provider may offer one API and not the other. */
export interface Providers {
  batch: Partial<Record<ProviderName, BatchProvider>>;
  realtime: Partial<Record<ProviderName, RealtimeProvider>>;
  /** Providers this worker reaches through the emulator: their answers are synthetic. */
  emulated?: ProviderName[];
}

/** How a failed provider call should be retried; activities turn this into an ApplicationFailure. */
export interface ProviderErrorInfo {
  type: ProviderFailureType;
  retryable: boolean;
  retryAfterMs?: number;
  message: string;
  status?: number;
}
