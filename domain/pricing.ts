import { z } from 'zod';
import type { Usage } from './usage.js';

/** Prices per million tokens, as a user may give them and as a batch stores them. */
export const Prices = z.strictObject({
  input_per_mtok: z.number().nonnegative(),
  output_per_mtok: z.number().nonnegative(),
  /** Defaults to the input price: no discount is assumed that was not stated. */
  cached_input_per_mtok: z.number().nonnegative().optional(),
  /** Writing a prompt-cache entry (Anthropic: 1.25 times the input price); defaults to the input price. */
  cache_write_input_per_mtok: z.number().nonnegative().optional(),
});
export type Prices = z.infer<typeof Prices>;

export const Pricing = Prices.extend({
  /** Multiplier for native batch traffic (0.5: the providers' half price). */
  batch_multiplier: z.number().min(0).max(1),
  source: z.enum(['genai-prices', 'override-file', 'request']),
});
export type Pricing = z.infer<typeof Pricing>;

/**
 * Dollar cost of one call. `input_tokens` counts cached tokens too (every provider reports it
 * that way after normalisation), so cached ones are billed at their own rate and the rest at
 * the input rate. Reasoning tokens are already part of output tokens.
 */
export function costOf(usage: Usage, p: Pricing, batch = true): number {
  const cached = Math.min(usage.cached_input_tokens, usage.input_tokens);
  // Tokens written to a prompt cache are input tokens at the write rate.
  const written = Math.min(usage.cache_write_input_tokens ?? 0, usage.input_tokens - cached);
  const uncached = usage.input_tokens - cached - written;
  const dollars =
    (uncached * p.input_per_mtok +
      cached * (p.cached_input_per_mtok ?? p.input_per_mtok) +
      written * (p.cache_write_input_per_mtok ?? p.input_per_mtok) +
      usage.output_tokens * p.output_per_mtok) /
    1e6;
  // To the pico-dollar: below any price's resolution, and it drops the binary noise of the
  // multiplications (5.6800000000000005e-5 becomes 5.68e-5), so stored costs read as decimals.
  return Math.round(dollars * (batch ? p.batch_multiplier : 1) * 1e12) / 1e12;
}

/**
 * Dollars as the API shows them: to the nano-dollar, which drops floating-point noise and keeps
 * every real digit (a token at $0.075 per million is 7.5e-8 dollars), so a batch's spend equals
 * the sum of its results' costs as shown.
 */
export function roundUsd(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

/**
 * What prompt caching took off a bill: cached input tokens at the input rate less the cached
 * rate. `batch` prices them at the batch API's multiplier; an `auto` batch, whose attempts may
 * go either way, is priced the same (the lower bound of what it saved).
 */
export function promptCacheSaving(usage: Pick<Usage, 'cached_input_tokens'>, p: Pricing, batch: boolean): number {
  const rate = p.input_per_mtok - (p.cached_input_per_mtok ?? p.input_per_mtok);
  if (rate <= 0 || usage.cached_input_tokens <= 0) return 0;
  return Math.round(((usage.cached_input_tokens * rate) / 1e6) * (batch ? p.batch_multiplier : 1) * 1e12) / 1e12;
}
