import type { ProviderOffer } from '../domain/provider-offers.js';
import type { Providers } from '../providers/types.js';
import { AnthropicBatchProvider, AnthropicRealtimeProvider, createAnthropicClient } from '../providers/anthropic.js';
import { createGeminiClient, GeminiBatchProvider, GeminiRealtimeProvider } from '../providers/gemini.js';
import { createOpenAIClient, OpenAIBatchProvider, OpenAIRealtimeProvider } from '../providers/openai.js';
import type { WorkerEnv } from './config.js';

/**
 * The provider clients this worker can use, from its environment alone. A base URL without a
 * key means the provider emulator, which takes any key: such a provider is listed as emulated,
 * and the batches it serves are marked synthetic. (A keyless OpenAI-compatible server is
 * OPENAI_COMPATIBLE_BASE_URL, which is never taken for the emulator.)
 */
export function createProviders(env: WorkerEnv): Providers {
  const providers: Providers = { batch: {}, realtime: {}, emulated: [] };
  if (!env.OPENAI_API_KEY && env.OPENAI_BASE_URL) providers.emulated!.push('openai');
  if (!env.ANTHROPIC_API_KEY && env.ANTHROPIC_BASE_URL) providers.emulated!.push('anthropic');
  if (!env.GEMINI_API_KEY && env.GEMINI_BASE_URL) providers.emulated!.push('gemini');
  if (env.OPENAI_API_KEY || env.OPENAI_BASE_URL) {
    const client = createOpenAIClient({ apiKey: env.OPENAI_API_KEY ?? 'emulator', baseURL: env.OPENAI_BASE_URL });
    providers.batch.openai = new OpenAIBatchProvider(client);
    providers.realtime.openai = new OpenAIRealtimeProvider(client);
  }
  if (env.ANTHROPIC_API_KEY || env.ANTHROPIC_BASE_URL) {
    const client = createAnthropicClient({
      apiKey: env.ANTHROPIC_API_KEY ?? 'emulator',
      ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
    });
    providers.batch.anthropic = new AnthropicBatchProvider(client);
    providers.realtime.anthropic = new AnthropicRealtimeProvider(client);
  }
  if (env.GEMINI_API_KEY || env.GEMINI_BASE_URL) {
    const client = createGeminiClient({
      apiKey: env.GEMINI_API_KEY ?? 'emulator',
      ...(env.GEMINI_BASE_URL ? { baseUrl: env.GEMINI_BASE_URL } : {}),
    });
    providers.batch.gemini = new GeminiBatchProvider(client);
    providers.realtime.gemini = new GeminiRealtimeProvider(client);
  }
  if (env.OPENAI_COMPATIBLE_BASE_URL) {
    const client = createOpenAIClient({ apiKey: env.OPENAI_COMPATIBLE_API_KEY ?? 'none', baseURL: env.OPENAI_COMPATIBLE_BASE_URL });
    providers.realtime.openai_compatible = new OpenAIRealtimeProvider(client, 'openai_compatible');
  }
  return providers;
}

/** Which providers are configured, for the start-up log (never the keys). */
export function describeProviders(p: Providers): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name] of Object.entries(p.batch)) (out[name] ??= []).push('batch');
  for (const [name] of Object.entries(p.realtime)) (out[name] ??= []).push('realtime');
  return out;
}

/** What this worker offers the API's check at submit: each provider it has a client for, by path, any model. */
export function offersOf(p: Providers): ProviderOffer[] {
  const names = [...new Set([...Object.keys(p.batch), ...Object.keys(p.realtime)])];
  return names.map((name) => ({ provider: name, batch: name in p.batch, realtime: name in p.realtime, models: null }));
}
