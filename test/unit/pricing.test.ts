import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { costOf, promptCacheSaving, roundUsd, type Pricing } from '../../domain/pricing.js';

const MINI: Pricing = { input_per_mtok: 0.4, output_per_mtok: 1.6, batch_multiplier: 0.5, source: 'genai-prices' };
const usage = (input: number, output: number, cached = 0) => ({
  input_tokens: input,
  cached_input_tokens: cached,
  output_tokens: output,
  reasoning_tokens: 0,
});

describe('costs read as decimals', () => {
  test('a call costs its exact decimal figure, without binary noise, at both prices', () => {
    assert.equal(String(costOf(usage(71, 20), MINI, true)), '0.0000302');
    assert.equal(String(costOf(usage(71, 20), MINI, false)), '0.0000604');
    // 0.4 * 142 / 1e6 alone prints 0.000056800000000000005.
    assert.equal(String(costOf(usage(142, 0), MINI, false)), '0.0000568');
  });

  test('cached input tokens are billed at their own rate', () => {
    const p: Pricing = { ...MINI, cached_input_per_mtok: 0.1 };
    assert.equal(costOf(usage(1000, 0, 400), p, false), (600 * 0.4 + 400 * 0.1) / 1e6);
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
    assert.equal(costOf(u, sonnet, false), (500 * 3 + 1000 * 0.3 + 1500 * 3.75 + 100 * 15) / 1e6);
    // Without a write rate, writes cost what input costs.
    assert.equal(costOf(u, MINI, false), costOf(usage(3000, 100, 1000), MINI, false));
    // What reads saved: the input rate less the cached rate, at the path's multiplier; nothing without a discount.
    assert.equal(promptCacheSaving({ cached_input_tokens: 1000 }, sonnet, true), (1000 * 2.7 * 0.5) / 1e6);
    assert.equal(promptCacheSaving({ cached_input_tokens: 1000 }, MINI, false), 0);
  });

  test('the API shows sums to the nano-dollar', () => {
    assert.equal(roundUsd(0.1 + 0.2), 0.3);
    assert.equal(roundUsd(0.0000000751), 0.000000075);
  });
});
