import { calcPrice } from '@pydantic/genai-prices';
import type { ProviderName } from './provider-catalog.js';

/**
 * How many tokens a model reads and writes in one request, so an item that cannot fit is refused
 * at intake instead of being sent (and paid for). The maintained price data knows the context
 * window of most models; for the others (a model priced by the request or the override file, a
 * self-hosted server) each provider gets a conservative default.
 */
export const DEFAULT_CONTEXT_WINDOWS: Record<ProviderName, number> = {
  openai: 128_000,
  anthropic: 200_000,
  gemini: 1_048_576,
  openai_compatible: 128_000,
};

const GENAI_PRICES_PROVIDER: Record<ProviderName, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  gemini: 'google',
  openai_compatible: 'openai',
};

export interface ContextWindow {
  tokens: number;
  source: 'price-data' | 'provider-default';
}

export function contextWindowOf(provider: ProviderName, model: string): ContextWindow {
  const known = calcPrice({ input_tokens: 1, output_tokens: 1 }, model, { providerId: GENAI_PRICES_PROVIDER[provider] })?.model
    .context_window;
  if (known && known > 0) return { tokens: known, source: 'price-data' };
  return { tokens: DEFAULT_CONTEXT_WINDOWS[provider], source: 'provider-default' };
}
