import { z } from 'zod';
import { checkNanos, nanosToUsd, type Nanos } from './money.js';
import type { Usage } from './usage.js';

/** Dollars per million tokens a price may say: far above any model's, and within what costs keep exact (atto-dollars per token below 2^53). */
export const PRICE_MAX_PER_MTOK = 9000;
const Price = z.number().nonnegative().max(PRICE_MAX_PER_MTOK);

/** Prices per million tokens, as a user may give them and as a batch stores them. */
export const Prices = z.strictObject({
  input_per_mtok: Price,
  output_per_mtok: Price,
  /** Defaults to the input price: no discount is assumed that was not stated. */
  cached_input_per_mtok: Price.optional(),
  /** Writing a prompt-cache entry (Anthropic: 1.25 times the input price); defaults to the input price. */
  cache_write_input_per_mtok: Price.optional(),
});
export type Prices = z.infer<typeof Prices>;

export const Pricing = Prices.extend({
  /** Multiplier for native batch traffic (0.5: the providers' half price). */
  batch_multiplier: z.number().min(0).max(1),
  source: z.enum(['genai-prices', 'override-file', 'request']),
});
export type Pricing = z.infer<typeof Pricing>;

/**
 * What one call costs, in nano-dollars. `input_tokens` counts cached tokens too (every provider
 * reports it that way after normalisation), so cached ones are billed at their own rate and the
 * rest at the input rate. Reasoning tokens are already part of output tokens.
 *
 * Integer arithmetic throughout, rounded once (half up) to the nano-dollar: each rate is taken
 * in atto-dollars per token (exact for prices of up to 12 decimals per million tokens, and it
 * drops the binary noise of a price like 0.15000000000000002), the multiplier as a small
 * fraction (1/2), and the sum is divided once.
 */
export function costNanosOf(usage: Usage, p: Pricing, batch = true): Nanos {
  return checkNanos(usageNanos(usage, p, batch));
}

/** costNanosOf without the bound: an estimate of a whole chunk's usage may pass it. */
export function usageNanos(usage: Usage, p: Pricing, batch = true): Nanos {
  const cached = Math.min(usage.cached_input_tokens, usage.input_tokens);
  // Tokens written to a prompt cache are input tokens at the write rate.
  const written = Math.min(usage.cache_write_input_tokens ?? 0, usage.input_tokens - cached);
  const uncached = usage.input_tokens - cached - written;
  const cachedPrice = p.cached_input_per_mtok ?? p.input_per_mtok;
  const writePrice = p.cache_write_input_per_mtok ?? p.input_per_mtok;
  const multiplier = batch ? p.batch_multiplier : 1;
  // Once per result row: the common case without arrays or BigInt.
  const [num, den] = fraction(multiplier);
  const scaled =
    (uncached * attoPerToken(p.input_per_mtok) +
      cached * attoPerToken(cachedPrice) +
      written * attoPerToken(writePrice) +
      usage.output_tokens * attoPerToken(p.output_per_mtok)) *
    num;
  const nanos = Number.isSafeInteger(scaled)
    ? divideHalfUp(scaled, ATTO_PER_NANO * den)
    : tokensCost(
        [
          [uncached, p.input_per_mtok],
          [cached, cachedPrice],
          [written, writePrice],
          [usage.output_tokens, p.output_per_mtok],
        ],
        multiplier,
      );
  return nanos;
}

const ATTO_PER_NANO = 1e9;

/** Dollars per million tokens in atto-dollars (1e-18) per token. */
function attoPerToken(usdPerMtok: number): number {
  const atto = Math.round(usdPerMtok * 1e12);
  if (!Number.isSafeInteger(atto) || atto < 0) throw new RangeError(`price ${usdPerMtok} per million tokens is out of range`);
  return atto;
}

/** A non-negative safe integer over a positive one, rounded half up. */
function divideHalfUp(dividend: number, divisor: number): number {
  let q = Math.floor(dividend / divisor);
  let r = dividend - q * divisor;
  // The float quotient can be one off either way; the remainder puts it right.
  if (r < 0) ((q -= 1), (r += divisor));
  else if (r >= divisor) ((q += 1), (r -= divisor));
  return 2 * r >= divisor ? q + 1 : q;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

const WHOLE: readonly [number, number] = [1, 1];
const HALF: readonly [number, number] = [1, 2];

/** A multiplier (0.5) as a fraction of small integers ([1, 2]), to the millionth. */
function fraction(multiplier: number): readonly [number, number] {
  if (multiplier === 1) return WHOLE;
  if (multiplier === 0.5) return HALF;
  const micro = Math.round(multiplier * 1e6);
  const g = gcd(micro, 1e6) || 1;
  return [micro / g, 1e6 / g];
}

/**
 * Σ tokens × rate × multiplier in nano-dollars, rounded half up once; BigInt only when a product
 * outgrows 2^53. Not held to MAX_NANOS: an estimate of a whole chunk may pass it.
 */
export function tokensCost(terms: Array<[tokens: number, usdPerMtok: number]>, multiplier: number): Nanos {
  const [num, den] = fraction(multiplier);
  const divisor = ATTO_PER_NANO * den;
  let atto = 0;
  for (const [tokens, price] of terms) atto += tokens * attoPerToken(price);
  const scaled = atto * num;
  if (Number.isSafeInteger(scaled)) return divideHalfUp(scaled, divisor);
  let big = 0n;
  for (const [tokens, price] of terms) big += BigInt(tokens) * BigInt(attoPerToken(price));
  big *= BigInt(num);
  const d = BigInt(divisor);
  return Number((2n * big + d) / (2n * d));
}

/**
 * What prompt caching took off a bill: cached input tokens at the input rate less the cached
 * rate. `batch` prices them at the batch API's multiplier; an `auto` batch, whose attempts may
 * go either way, is priced the same (the lower bound of what it saved).
 */
export function promptCacheSaving(usage: Pick<Usage, 'cached_input_tokens'>, p: Pricing, batch: boolean): number {
  const cachedRate = p.cached_input_per_mtok ?? p.input_per_mtok;
  if (p.input_per_mtok <= cachedRate || usage.cached_input_tokens <= 0) return 0;
  // Both rates in integer atto-dollars, so 0.4 − 0.1 leaves no 0.30000000000000004 behind.
  const tokens = usage.cached_input_tokens;
  return nanosToUsd(
    tokensCost(
      [
        [tokens, p.input_per_mtok],
        [-tokens, cachedRate],
      ],
      batch ? p.batch_multiplier : 1,
    ),
  );
}
