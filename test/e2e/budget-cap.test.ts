import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

/** Dear prices make cents out of a few hundred tokens, so budget arithmetic is visible. */
const PRICES = { input_per_mtok: 1000, output_per_mtok: 1000 };
const LABEL = {
  type: 'json_schema',
  json_schema: {
    name: 'label',
    strict: true,
    schema: {
      type: 'object',
      properties: { label: { type: 'string', enum: ['late', 'damaged', 'fine'] }, confidence: { type: 'number' } },
      required: ['label', 'confidence'],
      additionalProperties: false,
    },
  },
};

function body(mode: 'batch' | 'realtime', prefix: string, n: number) {
  return {
    model: 'gpt-4.1-mini',
    mode,
    system_prompt: 'Label the support ticket.',
    response_format: LABEL,
    items: Array.from({ length: n }, (_, i) => ({
      id: `${prefix}${i}`,
      content: `Ticket ${i}: the parcel arrived late and the box was damaged.`,
    })),
    chunk_size: 10,
    max_parallel_chunks: 2,
    max_attempts: 3,
    prices: PRICES,
  };
}

/** Polls the batch every 200 ms until it ends; returns the end state and the most it was ever seen to have spent. */
async function watch(stack: TestStack, id: string, limit: number | null) {
  let maxSpent = 0;
  const statuses = new Set<string>();
  const done = await until(
    () => stack.get(`/v1/batches/${id}`),
    (r) => {
      statuses.add(r.body.status);
      maxSpent = Math.max(maxSpent, r.body.cost.spent_usd);
      if (limit !== null) assert.ok(r.body.cost.spent_usd <= limit + 1e-9, `spent ${r.body.cost.spent_usd} over the limit ${limit}`);
      return ['completed', 'completed_with_failures', 'failed', 'cancelled', 'budget_exhausted', 'timed_out'].includes(r.body.status);
    },
    { intervalMs: 200, timeoutMs: 120_000 },
  );
  return { done: done.body, maxSpent, statuses };
}

/** Counts add up, every id once, spend = the sum of result costs. */
async function assertBooks(stack: TestStack, id: string, done: any, n: number) {
  const { succeeded, failed, cancelled, pending } = done.counts;
  assert.equal(succeeded + failed + cancelled, n, JSON.stringify(done.counts));
  assert.equal(pending, 0);
  const results = await stack.get(`/v1/batches/${id}/results?limit=1000`);
  assert.equal(new Set(results.body.data.map((r: any) => r.id)).size, n, 'every id once');
  const sum = results.body.data.reduce((a: number, r: any) => a + r.cost_usd, 0);
  assert.ok(Math.abs(sum - done.cost.spent_usd) < 1e-9, `results sum ${sum} vs spend ${done.cost.spent_usd}`);
  return results.body.data as any[];
}

describe('the budget is a hard cap', () => {
  const stack = useStack({ processingMs: 100, worker: true, api: { DROVER_POLL_INITIAL_MS: '100', DROVER_POLL_MAX_MS: '300' } });

  for (const mode of ['batch', 'realtime'] as const) {
    test(`${mode}: every answer malformed, max_attempts 3 → 3 paid answers per item, no more`, async () => {
      stack.emulator.reset();
      stack.emulator.setFaults({ malformed_json: { every: 1, once: false } });
      try {
        const created = await stack.post('/v1/batches', body(mode, `m${mode}`, 20));
        assert.equal(created.status, 202, created.text);
        const { done } = await watch(stack, created.body.id, null);
        assert.equal(done.status, 'failed');
        const results = await assertBooks(stack, created.body.id, done, 20);
        assert.ok(
          results.every((r) => r.error?.code === 'invalid_json'),
          'each ends with its last answer’s error',
        );
        const stats = stack.emulator.stats();
        const paid = mode === 'batch' ? stats.lines_received : stats.chat_completions;
        assert.equal(paid, 60, `${paid} paid answers for 20 items with max_attempts 3`);
      } finally {
        stack.emulator.setFaults({});
      }
    });

    test(`${mode}: every answer malformed under a tight limit → spend never above it, sampled every 200 ms`, async () => {
      stack.emulator.reset();
      stack.emulator.setFaults({ malformed_json: { every: 1, once: false } });
      try {
        const request = body(mode, `t${mode}`, 40);
        const estimate = await stack.post('/v1/batches/estimate', request);
        assert.equal(estimate.status, 200, estimate.text);
        // Room for every first attempt and a few repairs: not for all of them.
        const limit = Number((estimate.body.cost.high_usd * 1.6).toFixed(6));
        const created = await stack.post('/v1/batches', { ...request, max_cost_usd: limit, on_budget_exhausted: 'stop' });
        assert.equal(created.status, 202, created.text);
        const { done, maxSpent } = await watch(stack, created.body.id, limit);
        console.log(
          `${mode}: limit $${limit}, most seen $${maxSpent.toFixed(6)}, final $${done.cost.spent_usd.toFixed(6)} (${((done.cost.spent_usd / limit) * 100).toFixed(1)}% of the limit)`,
        );
        assert.equal(done.status, 'budget_exhausted');
        assert.ok(done.cost.spent_usd <= limit, `final spend ${done.cost.spent_usd} over ${limit}`);
        assert.ok(done.cost.spent_usd > estimate.body.cost.low_usd, 'it did spend: the cap, not an idle batch, held it');
        const results = await assertBooks(stack, created.body.id, done, 40);
        assert.ok(
          results.some((r) => r.status === 'cancelled' && r.error.code === 'budget_exhausted'),
          'what could not be paid for is cancelled',
        );
      } finally {
        stack.emulator.setFaults({});
      }
    });
  }

  test('a limit below the first chunk’s worst case is said at submit, and the waiting batch says why', async () => {
    const request = body('batch', 'low', 10);
    const estimate = await stack.post('/v1/batches/estimate', request);
    const limit = Number((estimate.body.cost.high_usd / 2).toFixed(6));
    const created = await stack.post('/v1/batches', { ...request, max_cost_usd: limit });
    assert.equal(created.status, 202, created.text);
    assert.equal(created.body.warnings.length, 1);
    assert.match(created.body.warnings[0], /max_cost_usd \$[\d.]+ is below the worst case of the first chunk .* waits in awaiting_budget/);
    const waiting = await until(
      () => stack.get(`/v1/batches/${created.body.id}`),
      (r) => r.body.status === 'awaiting_budget',
    );
    assert.match(waiting.body.status_reason, /waiting for budget/);
    assert.equal(waiting.body.cost.spent_usd, 0);
    const cancelled = await stack.post(`/v1/batches/${created.body.id}/cancel`, {});
    assert.equal(cancelled.status, 202, cancelled.text);
    const { done } = await watch(stack, created.body.id, limit);
    assert.equal(done.status, 'cancelled');
    await assertBooks(stack, created.body.id, done, 10);
    const fits = await stack.post('/v1/batches', { ...request, max_cost_usd: estimate.body.cost.high_usd, metadata: { n: '2' } });
    assert.equal(fits.body.warnings, undefined, 'no warning when the first chunk fits');
    await stack.post(`/v1/batches/${fits.body.id}/cancel`, {});
  });

  test('a classify-sized answer reserves a small cap: a budget that fits the real cost is not held hostage', async () => {
    const request = { ...body('batch', 'cap', 30), max_attempts: 1 };
    const estimate = await stack.post('/v1/batches/estimate', request);
    assert.ok(estimate.body.output_tokens.per_item_max < 100, `per-item output cap ${estimate.body.output_tokens.per_item_max}`);
    const created = await stack.post('/v1/batches', { ...request, max_cost_usd: estimate.body.cost.high_usd });
    const { done } = await watch(stack, created.body.id, estimate.body.cost.high_usd);
    assert.equal(done.status, 'completed');
    await assertBooks(stack, created.body.id, done, 30);
  });
});
