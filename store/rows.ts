import { z } from 'zod';
import { PromptSpec } from '../domain/batch-spec.js';
import { Pricing } from '../domain/pricing.js';

/** Stored rows, parsed on the way out so a schema drift fails loudly at the edge of the store. */

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
export const TERMINAL_STATUSES: readonly BatchStatus[] = ['completed', 'completed_with_failures', 'failed', 'cancelled', 'timed_out', 'budget_exhausted'];

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
  webhook_secret: z.string().nullable(),
  cost_usd: z.number(),
  estimated_cost_usd: z.number().nullable(),
  created_at: z.date(),
  started_at: z.date().nullable(),
  completed_at: z.date().nullable(),
});
export type BatchRow = z.infer<typeof BatchRow>;

export const ResultStatus = z.enum(['pending', 'succeeded', 'failed', 'cancelled']);
export type ResultStatus = z.infer<typeof ResultStatus>;

export const ItemError = z.object({
  code: z.string(),
  message: z.string(),
  status_code: z.int().optional(),
  /** For an answer that failed its schema: what the validator said, and the answer itself. */
  errors: z.array(z.string()).optional(),
  raw_output: z.string().optional(),
});
export type ItemError = z.infer<typeof ItemError>;

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
  path: z.enum(['batch', 'realtime']).nullable(),
  citations: z.array(z.record(z.string(), z.unknown())).nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
});
export type ResultRow = z.infer<typeof ResultRow>;
