import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertBatchAddsUp } from '../helpers/invariants.js';
import { useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const ITEMS = 120;

/**
 * A cancel that lands while realtime chunks are calling the provider: every answer the provider
 * gave is in the results (none lands after the tally, none is lost), the counts are the results',
 * and the spend is the sum of the result costs.
 */
describe('cancel during realtime chunks', () => {
  const stack = useStack();

  test('every answer the provider gave is counted and paid once', async () => {
    // Drover's limiter spaces the calls (about 5 a second), so both chunks are mid-flight at the cancel.
    await stack.startWorker({
      DROVER_RATE_LIMITS: JSON.stringify({ 'openai/gpt-4o-mini': { rpm: 300 } }),
      DROVER_REALTIME_CONCURRENCY: '8',
    });
    const ids = Array.from({ length: ITEMS }, (_, i) => `rt${i}`);
    const before = stack.emulator.stats().chat_completions;
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4o-mini',
      mode: 'realtime',
      chunk_size: 60,
      max_parallel_chunks: 2,
      items: ids.map((id) => ({ id, content: `Reply with one word for ${id}.` })),
    });
    assert.equal(created.status, 202, created.text);
    const id = created.body.id as string;
    await until(
      () => stack.db.query(`SELECT count(*)::int AS n FROM results WHERE batch_id = $1 AND status = 'succeeded'`, [id]),
      (r) => r.rows[0].n >= 25,
      { intervalMs: 20, what: 'realtime answers arriving' },
    );
    const cancelledAt = Date.now();
    const answeredAtCancel = stack.emulator.stats().chat_completions - before;
    assert.equal((await stack.post(`/v1/batches/${id}/cancel`, {})).status, 202);
    const done = await stack.waitForBatch(id, 60_000);
    const cancelMs = Date.now() - cancelledAt;
    assert.equal(done.status, 'cancelled', JSON.stringify(done.counts));
    await assertBatchAddsUp(stack, done, ids);
    assert.ok(done.counts.succeeded >= 25 && done.counts.cancelled > 0, JSON.stringify(done.counts));

    // Late answers: wait a moment for any call still in flight, then compare the provider's count with the results.
    await new Promise((r) => setTimeout(r, 1000));
    const answered = stack.emulator.stats().chat_completions - before;
    const { rows } = await stack.db.query(
      `SELECT count(*)::int AS n, COALESCE(sum(cost_usd), 0)::float AS cost FROM results WHERE batch_id = $1 AND usage IS NOT NULL`,
      [id],
    );
    assert.equal(rows[0].n, answered, `the provider answered ${answered} calls; ${rows[0].n} results record one`);
    const after = await stack.get(`/v1/batches/${id}`);
    assert.deepEqual(after.body.counts, done.counts, 'nothing changed after the batch ended');
    assert.equal(after.body.cost.spent_usd, done.cost.spent_usd);
    console.log(
      `cancel-realtime: ${answeredAtCancel} answers when the cancel was sent, ${answered} when it took hold ${cancelMs} ms later`,
      done.counts,
      `spent ${done.cost.spent_usd}`,
    );
  });
});
