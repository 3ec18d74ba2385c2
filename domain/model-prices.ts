import { calcPrice, findProvider } from '@pydantic/genai-prices';
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

type MatchLogic = { and: MatchLogic[] } | { or: MatchLogic[] } | { equals: string } | { starts_with: string } | Record<string, unknown>;

/** Names a model is known by in the price data: its id, exact names and name prefixes (a prefix takes any suffix). */
interface KnownNames {
  exact: Set<string>;
  prefixes: Set<string>;
}

const knownByProvider = new Map<ProviderName, KnownNames>();

function collect(match: MatchLogic, into: KnownNames): void {
  if ('or' in match && Array.isArray(match.or)) for (const m of match.or) collect(m, into);
  else if ('and' in match && Array.isArray(match.and)) for (const m of match.and) collect(m, into);
  else if ('equals' in match && typeof match.equals === 'string') into.exact.add(match.equals);
  else if ('starts_with' in match && typeof match.starts_with === 'string') into.prefixes.add(match.starts_with);
}

function knownNames(provider: ProviderName): KnownNames {
  let known = knownByProvider.get(provider);
  if (!known) {
    known = { exact: new Set(), prefixes: new Set() };
    for (const m of findProvider({ providerId: GENAI_PRICES_PROVIDER[provider] })?.models ?? []) {
      known.exact.add(m.id);
      collect(m.match, known);
    }
    knownByProvider.set(provider, known);
  }
  return known;
}

/** Optimal string alignment distance: edits, with a swap of two neighbours counted once (`mnii` → `mini`). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known model names closest to `model` (at most two edits, and fewer than a quarter of its
 * length), best first: what a typo most likely meant. A prefix in the price data (`claude-sonnet-4-5`)
 * is compared with the same stretch of `model`, and suggested with the rest of `model` kept.
 */
export function closeModelNames(provider: ProviderName, model: string, overrides: PriceOverrides = {}, max = 3): string[] {
  const known = knownNames(provider);
  const limit = Math.min(2, Math.floor(model.length / 4));
  // Exact names rank before names made from a prefix; of the best distance only.
  const scored = new Map<string, number>();
  const consider = (name: string, distance: number, rank: number) => {
    if (distance === 0 || distance > limit || name === model) return;
    const score = distance * 2 + rank;
    if ((scored.get(name) ?? Infinity) > score) scored.set(name, score);
  };
  const ownNames = Object.keys(overrides)
    .filter((k) => k.startsWith(`${provider}/`))
    .map((k) => k.slice(provider.length + 1));
  for (const name of [...known.exact, ...ownNames]) {
    if (Math.abs(name.length - model.length) <= limit) consider(name, editDistance(model, name), 0);
  }
  for (const prefix of known.prefixes) {
    for (let k = prefix.length - limit; k <= prefix.length + limit; k++) {
      // The stretch compared ends where a name part ends, so `claude-2` never stands for `claude-s…`.
      if (k <= 0 || k > model.length || (k < model.length && !SEPARATOR.test(model[k]!))) continue;
      const name = prefix + model.slice(k);
      if (!SEPARATOR.test(name[name.length - 1]!)) consider(name, editDistance(model.slice(0, k), prefix), 1);
    }
  }
  const ranked = [...scored.entries()].sort((x, y) => x[1] - y[1] || x[0].length - y[0].length || x[0].localeCompare(y[0]));
  const best = Math.floor((ranked[0]?.[1] ?? 0) / 2);
  return ranked
    .filter(([, score]) => Math.floor(score / 2) === best)
    .slice(0, max)
    .map(([name]) => name);
}

const SEPARATOR = /[-.:@/_]/;

/**
 * Why a model has no price, in words that lead somewhere. A close known name is most likely what
 * was meant ("did you mean gpt-4.1-mini?"), and no price is suggested for a typo. A model the price
 * data lists without a price, or any model of an OpenAI-compatible server (its names are the
 * server's own), is known to exist: only then is `prices` the way on. A name that is neither may
 * be newer than the price data, so the message says both.
 */
export function unpricedModelMessage(provider: ProviderName, model: string, overrides: PriceOverrides = {}): string {
  const givePrices = `give "prices" ({"input_per_mtok", "output_per_mtok"}) or add it to the price override file (DROVER_PRICES_FILE), so spend is never billed at zero`;
  if (provider === 'openai_compatible' || knownNames(provider).exact.has(model)) {
    return `no price is known for ${provider}/${model}: ${givePrices}`;
  }
  const close = closeModelNames(provider, model, overrides);
  if (close.length > 0) {
    const options = close.length === 1 ? close[0] : `${close.slice(0, -1).join(', ')} or ${close[close.length - 1]}`;
    return `unknown model '${model}' for ${provider}; did you mean ${options}?`;
  }
  return `unknown model '${model}' for ${provider}: no price is known for ${provider}/${model} (the price data, @pydantic/genai-prices, does not list it). Check the name; if it is a model newer than the price data, ${givePrices}`;
}

/** For a name no provider prefix claims (`gtp-4.1-mini`): the closest known model of any provider, as `; did you mean …?`, or ''. */
export function anyProviderSuggestion(model: string): string {
  const names = (['openai', 'anthropic', 'gemini'] as const).flatMap((p) => closeModelNames(p, model, {}, 1));
  const best = names.sort((a, b) => editDistance(model, a) - editDistance(model, b))[0];
  return best === undefined ? '' : `; did you mean ${best}?`;
}
