import type { ChunkLimits } from '../domain/chunk-plan.js';
import type { PromptSpec } from '../domain/batch-spec.js';
import type { MediaLimits } from '../domain/item-validator.js';

const MB = 1024 * 1024;

/**
 * What one native provider batch may hold: OpenAI 50,000 requests and a 200 MB file; Anthropic
 * 100,000 requests and 256 MB; Gemini inline requests up to 20 MB (a file beyond, up to 2 GB;
 * Drover keeps a chunk at 200 MB). `openai_compatible` servers have no batch API.
 */
export const PROVIDER_BATCH_LIMITS = {
  openai: { maxRequests: 50_000, maxBytes: 200 * MB },
  anthropic: { maxRequests: 100_000, maxBytes: 256 * MB },
  gemini: { maxRequests: 100_000, maxBytes: 200 * MB },
  openai_compatible: { maxRequests: 50_000, maxBytes: 200 * MB },
} as const;

export type ProviderName = keyof typeof PROVIDER_BATCH_LIMITS;
export const PROVIDERS = Object.keys(PROVIDER_BATCH_LIMITS) as ProviderName[];

/** Providers with a native batch API; the rest run every item in realtime mode. */
export const BATCH_PROVIDERS: readonly ProviderName[] = ['openai', 'anthropic', 'gemini'];

/** Per-item media limits at submit: Anthropic takes 5 MB images, OpenAI and Gemini 20 MB. */
export const MEDIA_LIMITS: Record<ProviderName, MediaLimits> = {
  openai: { maxImageBytes: 20 * MB, maxDocumentBytes: 32 * MB, documentUrls: false, dataUrls: true },
  anthropic: { maxImageBytes: 5 * MB, maxDocumentBytes: 32 * MB, documentUrls: true },
  gemini: { maxImageBytes: 20 * MB, maxDocumentBytes: 20 * MB, documentUrls: false },
  openai_compatible: { maxImageBytes: 20 * MB, maxDocumentBytes: 32 * MB, documentUrls: false, dataUrls: true },
};

/** Bare model names that say which provider serves them. */
const MODEL_PREFIXES: Array<[RegExp, ProviderName]> = [
  [/^(gpt-|o\d|chatgpt-|text-embedding-)/, 'openai'],
  [/^claude-/, 'anthropic'],
  [/^(gemini-|gemma-)/, 'gemini'],
];

/**
 * `provider/model`, or a bare name whose prefix names its provider (`gpt-4.1-mini`,
 * `claude-sonnet-4-5`, `gemini-2.5-flash`). Anything else is an error naming what is known.
 */
export function resolveModel(model: string): { provider: ProviderName; model: string } | { error: string } {
  const slash = model.indexOf('/');
  if (slash === -1) {
    const match = MODEL_PREFIXES.find(([re]) => re.test(model));
    if (match) return { provider: match[1], model };
    return {
      error: `unknown model "${model}": name it provider/model (providers: ${PROVIDERS.join(', ')}) or use a model name starting with gpt-, o1–o9, claude- or gemini-`,
    };
  }
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
    lineOverhead:
      160 + Buffer.byteLength(JSON.stringify({ model: spec.model, response_format: spec.response_format, max: spec.max_output_tokens })),
  };
}
