import { calcPrice } from '@pydantic/genai-prices';
import { z } from 'zod';
import { Prices, type Pricing } from './pricing.js';
import type { ProviderName } from './provider-catalog.js';

/** Every provider's native batch API bills half the synchronous price. */
export const BATCH_MULTIPLIER: Record<ProviderName, number> = { openai: 0.5, anthropic: 0.5, gemini: 0.5, openai_compatible: 1 };

const GENAI_PRICES_PROVIDER: Record<ProviderName, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  gemini: 'google',
  openai_compatible: 'openai',
};

/** `{"openai/my-finetune": {"input_per_mtok": 0.3, "output_per_mtok": 1.2}}`: models the price data lacks. */
export const PriceOverrides = z.record(z.string().regex(/^[a-z]+\/.+$/, 'keys are provider/model'), Prices);
export type PriceOverrides = z.infer<typeof PriceOverrides>;

/**
 * Prices for a model: the request's own, then the override file, then the maintained price
 * database (@pydantic/genai-prices). null means unknown, and Drover refuses to guess zero.
 * Rates are read at 1,000 tokens so tiered models get their base tier.
 */
export function resolvePricing(
  provider: ProviderName,
  model: string,
  fromRequest: Prices | undefined,
  overrides: PriceOverrides,
): Pricing | null {
  const batch_multiplier = BATCH_MULTIPLIER[provider];
  if (fromRequest) return { ...fromRequest, batch_multiplier, source: 'request' };
  const override = overrides[`${provider}/${model}`];
  if (override) return { ...override, batch_multiplier, source: 'override-file' };
  const providerId = GENAI_PRICES_PROVIDER[provider];
  const base = calcPrice({ input_tokens: 1000, output_tokens: 1000 }, model, { providerId });
  if (!base) return null;
  const cached = calcPrice({ input_tokens: 1000, cache_read_tokens: 1000, output_tokens: 0 }, model, { providerId });
  const written = calcPrice({ input_tokens: 1000, cache_write_tokens: 1000, output_tokens: 0 }, model, { providerId });
  return {
    input_per_mtok: base.input_price * 1000,
    output_per_mtok: base.output_price * 1000,
    ...(cached ? { cached_input_per_mtok: cached.input_price * 1000 } : {}),
    ...(written && written.input_price !== base.input_price ? { cache_write_input_per_mtok: written.input_price * 1000 } : {}),
    batch_multiplier,
    source: 'genai-prices',
  };
}
