import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nanosToDecimal, nanosToUsd } from '../../domain/money.js';
import { costNanosOf, promptCacheSaving, tokensCost, type Pricing } from '../../domain/pricing.js';

const MINI: Pricing = { input_per_mtok: 0.4, output_per_mtok: 1.6, batch_multiplier: 0.5, source: 'genai-prices' };
const usage = (input: number, output: number, cached = 0) => ({
  input_tokens: input,
  cached_input_tokens: cached,
  output_tokens: output,
  reasoning_tokens: 0,
});

describe('a call costs whole nano-dollars, computed exactly', () => {
  test('a call costs its exact decimal figure, without binary noise, at both prices', () => {
    assert.equal(costNanosOf(usage(71, 20), MINI, true), 30_200);
    assert.equal(nanosToDecimal(costNanosOf(usage(71, 20), MINI, true)), '0.0000302');
    assert.equal(costNanosOf(usage(71, 20), MINI, false), 60_400);
    // 0.4 * 142 / 1e6 alone prints 0.000056800000000000005.
    assert.equal(String(nanosToUsd(costNanosOf(usage(142, 0), MINI, false))), '0.0000568');
  });

  test('cached input tokens are billed at their own rate', () => {
    const p: Pricing = { ...MINI, cached_input_per_mtok: 0.1 };
    assert.equal(costNanosOf(usage(1000, 0, 400), p, false), 600 * 400 + 400 * 100);
  });

  test('rounded once, half up, to the nano-dollar', () => {
    const cheap: Pricing = { input_per_mtok: 0.075, output_per_mtok: 0.075, batch_multiplier: 0.5, source: 'request' };
    // 37.5 nano-dollars: half up.
    assert.equal(costNanosOf(usage(1, 0), cheap), 38);
    assert.equal(costNanosOf(usage(3, 0), cheap), 113);
    // Two halves make a whole: 75, not 38 + 38.
    assert.equal(costNanosOf(usage(1, 1), cheap), 75);
    assert.equal(costNanosOf(usage(1, 0), cheap, false), 75);
  });

  test('a price with binary noise in it (genai-prices × 1000) costs what its decimal does', () => {
    const noisy: Pricing = { input_per_mtok: 0.15000000000000002, output_per_mtok: 0.6, batch_multiplier: 0.5, source: 'genai-prices' };
    assert.equal(costNanosOf(usage(333, 77), noisy), Math.round((333 * 0.15 + 77 * 0.6) * 500));
    assert.equal(costNanosOf(usage(333, 77), noisy), 48_075);
  });

  test('estimate-sized token counts go past 2^53 atto-dollars and stay exact', () => {
    // A billion tokens at $15 per million: $15,000, half on the batch path.
    assert.equal(tokensCost([[1e9, 15]], 1), 15_000e9);
    assert.equal(tokensCost([[1e9, 15]], 0.5), 7_500e9);
    assert.equal(tokensCost([[1e9 + 1, 0.075]], 0.5), 37_500_000_038);
    // A multiplier that is no power of two: 0.3 of 1 token at $1 per million is 0.3 micro-dollars.
    assert.equal(tokensCost([[1, 1]], 0.3), 300);
  });

  test('a call costing beyond what money keeps exact is refused, not rounded', () => {
    assert.throws(() => costNanosOf(usage(1e12, 0), { ...MINI, input_per_mtok: 15 }, false), RangeError);
    assert.throws(() => tokensCost([[1, -1]], 1), RangeError);
    assert.throws(() => tokensCost([[1, 1e4]], 1), RangeError);
    // An estimate may pass the bound: a whole batch of dear outputs ($15M) is not refused.
    assert.equal(tokensCost([[1e12, 15]], 1), 15e15);
  });

  test('prompt-cache writes are billed at the write rate, reads at the cached rate, the rest at the input rate', () => {
    const sonnet: Pricing = {
      ...MINI,
      input_per_mtok: 3,
      output_per_mtok: 15,
      cached_input_per_mtok: 0.3,
      cache_write_input_per_mtok: 3.75,
    };
    const u = { ...usage(3000, 100, 1000), cache_write_input_tokens: 1500 };
    assert.equal(costNanosOf(u, sonnet, false), (500 * 3 + 1000 * 0.3 + 1500 * 3.75 + 100 * 15) * 1000);
    // Without a write rate, writes cost what input costs.
    assert.equal(costNanosOf(u, MINI, false), costNanosOf(usage(3000, 100, 1000), MINI, false));
    // What reads saved: the input rate less the cached rate, at the path's multiplier; nothing without a discount.
    assert.equal(promptCacheSaving({ cached_input_tokens: 1000 }, sonnet, true), (1000 * 2.7 * 0.5) / 1e6);
    assert.equal(promptCacheSaving({ cached_input_tokens: 1000 }, MINI, false), 0);
    // Rates whose float difference is noisy (0.4 − 0.1) give the exact decimal.
    const noisy: Pricing = { ...MINI, input_per_mtok: 0.4, cached_input_per_mtok: 0.1 };
    assert.equal(promptCacheSaving({ cached_input_tokens: 333_333 }, noisy, true), 0.04999995);
  });
});
