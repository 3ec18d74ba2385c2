import type { ChunkLimits } from '../domain/chunk-plan.js';
import type { PromptSpec } from '../domain/batch-spec.js';

/** What one native provider batch may hold (OpenAI: 50,000 requests and 200 MB per input file). */
export const PROVIDER_BATCH_LIMITS = {
  openai: { maxRequests: 50_000, maxBytes: 200 * 1024 * 1024 },
} as const;

export type ProviderName = keyof typeof PROVIDER_BATCH_LIMITS;
export const PROVIDERS = Object.keys(PROVIDER_BATCH_LIMITS) as ProviderName[];

/** `openai/gpt-4.1-mini` or a bare model name, which means OpenAI until other providers arrive. */
export function resolveModel(model: string): { provider: ProviderName; model: string } | { error: string } {
  const slash = model.indexOf('/');
  if (slash === -1) return { provider: 'openai', model };
  const provider = model.slice(0, slash);
  if (!(PROVIDERS as string[]).includes(provider)) {
    return { error: `unknown provider "${provider}"; known providers: ${PROVIDERS.join(', ')}` };
  }
  const name = model.slice(slash + 1);
  if (!name) return { error: `no model name after "${provider}/"` };
  return { provider: provider as ProviderName, model: name };
}

export function chunkLimits(provider: ProviderName, chunkSize: number, spec: PromptSpec): ChunkLimits {
  const limits = PROVIDER_BATCH_LIMITS[provider];
  // 5% margin: our envelope estimate is close but not byte-exact for every provider.
  return {
    maxItems: Math.min(chunkSize, limits.maxRequests),
    maxBytes: Math.floor(limits.maxBytes * 0.95),
    lineOverhead: 160 + Buffer.byteLength(JSON.stringify({ model: spec.model, response_format: spec.response_format, max: spec.max_output_tokens })),
  };
}
