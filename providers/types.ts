import type { ChatMessage, ResponseFormat } from '../domain/batch-spec.js';
import type { Usage } from '../domain/usage.js';
import type { ItemError } from '../store/rows.js';
import type { ProviderName } from './limits.js';

/** One model call in provider-neutral terms; each provider encodes it in its own wire format. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  response_format?: ResponseFormat;
  max_output_tokens?: number;
}

/** Drover's view of a provider batch's lifecycle, whatever the provider calls its states. */
export type ProviderBatchState = 'validating' | 'in_progress' | 'finalizing' | 'completed' | 'failed' | 'expired' | 'cancelling' | 'cancelled';

export const TERMINAL_PROVIDER_STATES: readonly ProviderBatchState[] = ['completed', 'failed', 'expired', 'cancelled'];

export interface ProviderBatchStatus {
  id: string;
  state: ProviderBatchState;
  terminal: boolean;
  counts: { total: number; completed: number; failed: number };
  /** Why the whole provider batch failed (validation errors), when it did. */
  error?: string;
}

export type ProviderResultLine =
  | { customId: string; ok: true; text: string; usage: Usage; truncated: boolean }
  | { customId: string; ok: false; error: ItemError; retryable: boolean; usage: Usage | null };

/**
 * A provider's native batch API. Implementations use the provider's official SDK with its own
 * retries off: Temporal is the one retrier, so every call here is a single attempt.
 */
export interface BatchProvider {
  readonly name: ProviderName;
  encodeLine(customId: string, request: ChatRequest): string;
  uploadInput(jobKey: string, jsonl: Buffer): Promise<string>;
  /** Finds a batch this key created earlier (a crash between create and record), or null. */
  findBatch(jobKey: string, createdAfter: Date): Promise<string | null>;
  createBatch(jobKey: string, inputFileId: string): Promise<string>;
  retrieve(providerBatchId: string): Promise<ProviderBatchStatus>;
  results(providerBatchId: string): AsyncIterable<ProviderResultLine>;
  cancel(providerBatchId: string): Promise<void>;
  /** How a failed call of this provider's SDK should be retried; null for errors not its own. */
  classifyError(err: unknown): ProviderErrorInfo | null;
}

/** How a failed provider call should be retried; activities turn this into an ApplicationFailure. */
export interface ProviderErrorInfo {
  type: 'ProviderRateLimited' | 'ProviderInvalidRequest' | 'ProviderAuthentication' | 'ProviderUnavailable';
  retryable: boolean;
  retryAfterMs?: number;
  message: string;
  status?: number;
}
