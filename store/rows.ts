import { z } from 'zod';
import { PromptSpec, SampleSpec } from '../domain/batch-spec.js';
import { Pricing } from '../domain/pricing.js';
// The statuses and an item's error are public: the API sends them as stored.
import { BatchStatus, ItemError, ResultStatus } from '../domain/responses.js';

/** Stored rows, parsed on the way out so a schema drift fails loudly at the edge of the store. */

export const UsageRow = z.object({
  input_tokens: z.number().default(0),
  cached_input_tokens: z.number().default(0),
  output_tokens: z.number().default(0),
  reasoning_tokens: z.number().default(0),
});

export const StoredSettings = z.object({
  chunk_size: z.int(),
  max_parallel_chunks: z.int(),
  max_attempts: z.int(),
  sample: SampleSpec.optional(),
  /** The result cache (domain/cache-key.ts); absent for batches stored before it: off. */
  cache: z.enum(['use', 'refresh', 'off']).optional(),
});
export type StoredSettings = z.infer<typeof StoredSettings>;

export const BatchRow = z.object({
  id: z.string(),
  tenant_id: z.string(),
  idempotency_key: z.string().nullable(),
  status: BatchStatus,
  provider: z.string(),
  model: z.string(),
  spec: PromptSpec,
  settings: StoredSettings,
  metadata: z.record(z.string(), z.unknown()).nullable(),
  item_count: z.int(),
  chunk_count: z.int().nullable(),
  succeeded: z.int(),
  failed: z.int(),
  usage: UsageRow,
  error: z.string().nullable(),
  pricing: Pricing.nullable(),
  max_cost_usd: z.number().nullable(),
  deadline: z.date().nullable(),
  on_budget_exhausted: z.enum(['wait', 'stop']),
  mode: z.enum(['batch', 'realtime', 'auto']),
  webhook_url: z.string().nullable(),
  /** Sealed (secret-box.ts openSecret), or plain for batches stored before sealing. */
  webhook_secret: z.string().nullable(),
  /** SHA-256 of the normalised request; null for batches stored before it was kept. */
  request_hash: z.string().nullable().optional(),
  cost_usd: z.number(),
  estimated_cost_usd: z.number().nullable(),
  created_at: z.date(),
  started_at: z.date().nullable(),
  completed_at: z.date().nullable(),
  /** Items answered from the result cache, and what their first answers cost (migration 013). */
  cache_hits: z.int().optional(),
  cache_saved_usd: z.number().optional(),
  /** The batch this one reruns items of, if any. */
  rerun_of: z.string().nullable().optional(),
  /** Its provider was the emulator: its answers are synthetic (migration 018). */
  synthetic: z.boolean().optional(),
});
export type BatchRow = z.infer<typeof BatchRow>;

/** An item joined with its result: what the results endpoints stream. */
export const ResultRow = z.object({
  seq: z.int(),
  item_id: z.string(),
  status: ResultStatus,
  output: z.unknown().nullable(),
  error: ItemError.nullable(),
  usage: UsageRow.nullable(),
  cost_usd: z.number(),
  attempt: z.int().nullable(),
  path: z.enum(['batch', 'realtime', 'cache']).nullable(),
  /** For path 'cache': the batch whose answer this is. */
  cached_from: z.string().nullable().optional(),
  citations: z.array(z.record(z.string(), z.unknown())).nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
});
export type ResultRow = z.infer<typeof ResultRow>;
