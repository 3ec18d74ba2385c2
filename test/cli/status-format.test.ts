import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BatchView } from '../../client/index.js';
import { formatRate, formatUsd } from '../../cli/format.js';
import { plainProgressLine, progressLine } from '../../cli/progress.js';
import { batchSummary, estimateSummary } from '../../cli/summary.js';

/** `drover status` on batches that are not moving, and money at every scale. */

const T0 = Date.parse('2030-01-01T12:00:00Z');

function batch(over: Partial<BatchView> = {}): BatchView {
  return {
    id: 'batch_1',
    object: 'batch',
    status: 'running',
    model: 'gpt-4.1-mini',
    provider: 'openai',
    counts: { total: 300, succeeded: 150, failed: 0, cancelled: 0, pending: 150 },
    usage: { input_tokens: 1000, cached_input_tokens: 0, output_tokens: 500, reasoning_tokens: 0 },
    cost: { spent_usd: 0.0123, reserved_usd: 0.01, limit_usd: 5, estimated_total_usd: 0.03 },
    deadline: null,
    chunks: { total: 6, completed: 3, running: 1, waiting: 2 },
    metadata: null,
    error: null,
    created_at: new Date(T0 - 125_000).toISOString(),
    started_at: new Date(T0 - 120_000).toISOString(),
    completed_at: null,
    eta: new Date(T0 + 37_000).toISOString(),
    ...over,
  };
}

const etaRow = (lines: string[]) => lines.find((l) => /^\s+eta\s/.test(l));

describe('drover status: the ETA', () => {
  test('a running batch shows its ETA, in the future', () => {
    assert.match(etaRow(batchSummary(batch(), T0)) ?? '', /eta\s+2030-01-01T12:00:37\.000Z \(in 37s\)/);
    assert.match(progressLine(batch(), T0, { columns: 120 }), /ETA 37s/);
  });

  for (const status of ['paused', 'awaiting_budget', 'cancelling'] as const) {
    test(`a ${status} batch shows none, even when the API sent one`, () => {
      const b = batch({ status });
      assert.equal(etaRow(batchSummary(b, T0)), undefined);
      assert.doesNotMatch(progressLine(b, T0, { columns: 120 }), /ETA/);
      assert.match(plainProgressLine(b, T0), /2m 05s elapsed/);
    });
  }

  test('a stuck batch whose ETA has passed shows no time in the past', () => {
    const b = batch({ eta: new Date(T0 - 67_000).toISOString() });
    const text = batchSummary(b, T0).join('\n');
    assert.equal(etaRow(batchSummary(b, T0)), undefined);
    assert.doesNotMatch(text, /1m 07s ago/);
    assert.doesNotMatch(progressLine(b, T0, { columns: 120 }), /ETA/);
  });
});

describe('money', () => {
  test('never $0. nor exponents; small amounts keep their digits', () => {
    assert.equal(formatUsd(0.0000001), '$0.0000001');
    assert.equal(formatUsd(1e-9), '$0.000000001');
    assert.equal(formatUsd(0.000016), '$0.000016');
    assert.equal(formatUsd(0.0123), '$0.0123');
    assert.equal(formatUsd(0.41), '$0.41');
    assert.equal(formatUsd(0.5), '$0.50');
    assert.equal(formatUsd(0.1 + 0.2), '$0.30');
    assert.equal(formatUsd(0.0179442), '$0.0179');
    assert.equal(formatUsd(0), '$0.00');
    assert.equal(formatUsd(20), '$20.00');
    assert.equal(formatUsd(1234.5), '$1,234.50');
    assert.equal(formatUsd(-0.25), '-$0.25');
    for (let exp = -12; exp <= 6; exp++) {
      for (const mantissa of [1, 1.5, 9.99]) {
        const text = formatUsd(mantissa * 10 ** exp);
        assert.doesNotMatch(text, /\.$|e|\.\D|^\$0\.0*$/, `${mantissa}e${exp} → ${text}`);
      }
    }
  });

  test('a limit of 0.0000001 in the status summary', () => {
    const cost = batchSummary(
      batch({ cost: { spent_usd: 0, reserved_usd: 0, limit_usd: 0.0000001, estimated_total_usd: 0.00648 } }),
      T0,
    ).find((l) => l.includes('cost'));
    assert.equal(cost, '  cost      $0.00 spent, limit $0.0000001, ~$0.00648 expected in all');
  });

  test('prices per million tokens as given', () => {
    assert.equal(formatRate(0.4), '$0.4');
    assert.equal(formatRate(0.1 + 0.2), '$0.3');
    const lines = estimateSummary({
      object: 'batch_estimate',
      model: 'gpt-4.1-mini',
      provider: 'openai',
      item_count: 2,
      chunks: { count: 1, plan: [] },
      input_tokens: 10,
      input_token_method: 'tokenizer:o200k_base',
      output_tokens: { typical: 10, max: 20, per_item_max: 10 },
      cost: { low_usd: 0.0000001, expected_usd: 0.000002, high_usd: 0.00003 },
      pricing: { input_per_mtok: 0.4, output_per_mtok: 1.6, batch_multiplier: 0.5, source: 'genai-prices' },
    } as never);
    assert.ok(
      lines.some((l) => l.includes('$0.0000001 low, $0.000002 expected, $0.00003 high')),
      lines.join('\n'),
    );
    assert.ok(lines.some((l) => l.includes('$0.4 in / $1.6 out per million tokens')));
  });
});
