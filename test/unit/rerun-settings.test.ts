import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rerunSettings } from '../../api/rerun-settings.js';
import type { BatchRow } from '../../store/rows.js';

const old = {
  model: 'gpt-4.1-mini',
  spec: { model: 'gpt-4.1-mini', system_prompt: 'Label it.', max_output_tokens: 50 },
  settings: { chunk_size: 100, max_parallel_chunks: 2, max_attempts: 3, cache: 'use' },
  mode: 'batch',
  on_budget_exhausted: 'stop',
  max_cost_usd: 5,
  metadata: null,
  webhook_url: null,
  deadline: new Date(0),
  pricing: { input_per_mtok: 1, output_per_mtok: 2, batch_multiplier: 0.5, source: 'request' },
} as unknown as BatchRow;

describe('rerunSettings', () => {
  test("the old batch's settings, without its deadline or empty fields", () => {
    assert.deepEqual(rerunSettings(old, {}), {
      model: 'gpt-4.1-mini',
      system_prompt: 'Label it.',
      max_output_tokens: 50,
      chunk_size: 100,
      max_parallel_chunks: 2,
      max_attempts: 3,
      cache: 'use',
      mode: 'batch',
      on_budget_exhausted: 'stop',
      max_cost_usd: 5,
      prices: { input_per_mtok: 1, output_per_mtok: 2 },
    });
  });

  test("overrides win; another model drops the old model's prices", () => {
    const s = rerunSettings(old, { model: 'gpt-4o-mini', max_attempts: 1, cache: 'off', time_limit_seconds: 60 });
    assert.equal(s.model, 'gpt-4o-mini');
    assert.equal(s.max_attempts, 1);
    assert.equal(s.cache, 'off');
    assert.equal(s.time_limit_seconds, 60);
    assert.equal(s.prices, undefined);
  });
});
