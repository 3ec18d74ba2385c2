import type { RerunRequest } from '../domain/batch-spec.js';
import type { BatchRow } from '../store/rows.js';

/**
 * The request a rerun of `old` stands for: the old batch's settings as a submit would give them
 * (prompts, schema, mode, chunking, attempts, limits, cache, metadata, webhook), then the
 * overrides. A deadline is not carried over (it has likely passed); prices the old request gave
 * are, unless the model changes, since they were that model's.
 */
export function rerunSettings(old: BatchRow, overrides: Omit<RerunRequest, 'status'>): Record<string, unknown> {
  const sameModel = overrides.model === undefined || overrides.model === old.model;
  const p = old.pricing;
  const settings: Record<string, unknown> = {
    model: old.model,
    system_prompt: old.spec.system_prompt,
    user_prompt_template: old.spec.user_prompt_template,
    response_format: old.spec.response_format,
    max_output_tokens: old.spec.max_output_tokens,
    enable_citations: old.spec.citations,
    chunk_size: old.settings.chunk_size,
    max_parallel_chunks: old.settings.max_parallel_chunks,
    max_attempts: old.settings.max_attempts,
    cache: old.settings.cache,
    mode: old.mode,
    on_budget_exhausted: old.on_budget_exhausted,
    max_cost_usd: old.max_cost_usd ?? undefined,
    metadata: old.metadata ?? undefined,
    webhook_url: old.webhook_url ?? undefined,
    prices:
      sameModel && p?.source === 'request'
        ? {
            input_per_mtok: p.input_per_mtok,
            output_per_mtok: p.output_per_mtok,
            cached_input_per_mtok: p.cached_input_per_mtok,
            cache_write_input_per_mtok: p.cache_write_input_per_mtok,
          }
        : undefined,
    ...overrides,
  };
  return JSON.parse(JSON.stringify(settings)) as Record<string, unknown>;
}
