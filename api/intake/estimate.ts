import type { BatchSettings } from '../../domain/batch-spec.js';
import { BatchPlanner, totalEstimate } from '../../domain/batch-plan.js';
import { outputTokensPerItem, tokenCounterFor } from '../../domain/estimate.js';
import { ItemValidator, type ItemLimits } from '../../domain/item-validator.js';
import { contextWindowOf } from '../../domain/model-context.js';
import { nanosToUsd } from '../../domain/money.js';
import { MEDIA_LIMITS, type ProviderName } from '../../domain/provider-catalog.js';
import type { BatchEstimate } from '../../domain/responses.js';
import type { BatchDraft, IntakeContext } from './batch-draft.js';
import { DEFAULT_INTAKE_LIMITS } from './limits.js';

/** The plan the worker will run for this request, priced chunk by chunk. */
export function plannerFor(draft: BatchDraft): BatchPlanner {
  const { settings } = draft;
  return new BatchPlanner({
    provider: draft.provider,
    spec: draft.spec,
    pricing: draft.pricing,
    mode: settings.mode,
    chunkSize: settings.chunk_size,
    maxAttempts: settings.max_attempts,
  });
}

export function validatorFor(
  settings: Pick<BatchSettings, 'system_prompt' | 'user_prompt_template'>,
  provider: ProviderName,
  limits: ItemLimits = {},
): { validator: ItemValidator; method: string } {
  const counter = tokenCounterFor(provider);
  return { validator: new ItemValidator(settings, counter.count, MEDIA_LIMITS[provider], limits), method: counter.method };
}

/** An item's limits for this request: the model's context window and the deployment's item size. */
export function itemLimitsFor(draft: BatchDraft | null, ctx: Pick<IntakeContext, 'limits'>): ItemLimits {
  const maxItemBytes = (ctx.limits ?? DEFAULT_INTAKE_LIMITS).maxItemBytes;
  if (!draft) return { maxItemBytes };
  const window = contextWindowOf(draft.provider, draft.spec.model);
  return {
    maxItemBytes,
    context: { model: draft.settings.model, tokens: window.tokens, source: window.source, outputTokens: draft.settings.max_output_tokens },
  };
}

const PLAN_SHOWN = 100;

export function estimateView(draft: BatchDraft, planner: BatchPlanner, method: string): BatchEstimate {
  const chunks = planner.finish();
  const e = totalEstimate(chunks);
  return {
    object: 'batch_estimate',
    model: draft.settings.model,
    provider: draft.provider,
    item_count: planner.itemCount,
    chunks: {
      count: chunks.length,
      plan: chunks
        .slice(0, PLAN_SHOWN)
        .map((c) => ({ index: c.idx, items: c.item_count, bytes: c.bytes, input_tokens: c.est_input_tokens })),
    },
    input_tokens: e.input_tokens,
    input_token_method: method,
    output_tokens: { ...e.output_tokens, per_item_max: outputTokensPerItem(draft.spec).max },
    cost: {
      low_usd: nanosToUsd(e.cost.low_nanos),
      expected_usd: nanosToUsd(e.cost.expected_nanos),
      high_usd: nanosToUsd(e.cost.high_nanos),
    },
    pricing: draft.pricing,
  };
}
