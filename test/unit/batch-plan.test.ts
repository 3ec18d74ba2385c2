import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchPlanner, totalEstimate, type PlanSettings } from '../../domain/batch-plan.js';
import { AUTO_REALTIME_BELOW } from '../../domain/choose-path.js';
import { estimateCost, outputTokensPerItem } from '../../domain/estimate.js';
import type { Pricing } from '../../domain/pricing.js';

const pricing: Pricing = { input_per_mtok: 2, output_per_mtok: 8, batch_multiplier: 0.5, source: 'request' };
const base: PlanSettings = {
  provider: 'openai',
  spec: { model: 'gpt-4.1-mini', max_output_tokens: 100 },
  pricing,
  mode: 'auto',
  chunkSize: 100,
  maxAttempts: 3,
};

function plan(settings: PlanSettings, items: number, tokens = 10) {
  const planner = new BatchPlanner(settings);
  for (let seq = 0; seq < items; seq++) planner.add({ seq, request_bytes: 200, est_input_tokens: tokens });
  return { planner, chunks: planner.finish() };
}

describe('BatchPlanner', () => {
  test('splits by chunk size and counts every item', () => {
    const { planner, chunks } = plan(base, 250);
    assert.deepEqual(
      chunks.map((c) => [c.seq_start, c.seq_end, c.item_count]),
      [
        [0, 100, 100],
        [100, 200, 100],
        [200, 250, 50],
      ],
    );
    assert.equal(planner.itemCount, 250);
  });

  test('prices each chunk on the path its first attempt takes: a small last chunk goes realtime at full price', () => {
    const { chunks } = plan(base, 100 + AUTO_REALTIME_BELOW - 1);
    assert.deepEqual(
      chunks.map((c) => c.path),
      ['batch', 'realtime'],
    );
    const perItem = outputTokensPerItem(base.spec);
    for (const c of chunks)
      assert.deepEqual(c.estimate, estimateCost(c.est_input_tokens, c.item_count, perItem, pricing, c.path === 'batch'));
    const [big, small] = chunks;
    // Same items, same tokens: the realtime chunk costs twice as much per item.
    assert.ok(
      // Each chunk's figure is rounded once to the nano-dollar.
      Math.abs(small!.estimate.cost.expected_nanos / small!.item_count - (2 * big!.estimate.cost.expected_nanos) / big!.item_count) < 1,
    );
  });

  test('a provider without a batch API and an explicit mode decide the path', () => {
    assert.deepEqual(
      plan({ ...base, provider: 'openai_compatible' }, 150).chunks.map((c) => c.path),
      ['realtime', 'realtime'],
    );
    assert.deepEqual(
      plan({ ...base, mode: 'batch' }, 110).chunks.map((c) => c.path),
      ['batch', 'batch'],
    );
    assert.deepEqual(
      plan({ ...base, mode: 'realtime' }, 110).chunks.map((c) => c.path),
      ['realtime', 'realtime'],
    );
  });

  test('the total is the sum of the chunks', () => {
    const { chunks } = plan(base, 230, 7);
    const total = totalEstimate(chunks);
    assert.equal(total.input_tokens, 230 * 7);
    assert.deepEqual(total.output_tokens, { typical: 230 * outputTokensPerItem(base.spec).typical, max: 230 * 100 });
    const expected = chunks.reduce((sum, c) => sum + c.estimate.cost.expected_nanos, 0);
    assert.equal(total.cost.expected_nanos, expected);
  });

  test('finish can be read twice with the same answer', () => {
    const { planner, chunks } = plan(base, 120);
    assert.deepEqual(planner.finish(), chunks);
  });

  test('an item above the provider file limit is refused', () => {
    const planner = new BatchPlanner(base);
    assert.throws(() => planner.add({ seq: 0, request_bytes: 300 * 1024 * 1024, est_input_tokens: 1 }), /batch file limit/);
  });
});
