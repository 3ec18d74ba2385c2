import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { costOf, roundUsd, type Pricing } from '../../domain/pricing.js';

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

  test('the API shows sums to the nano-dollar', () => {
    assert.equal(roundUsd(0.1 + 0.2), 0.3);
    assert.equal(roundUsd(0.0000000751), 0.000000075);
  });
});
