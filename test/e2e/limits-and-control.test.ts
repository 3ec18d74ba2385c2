import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStack } from '../helpers/stack.js';
import { sleep, until } from '../helpers/wait.js';

function items(n: number, prefix: string) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    content: `Please summarise support ticket number ${i}: the parcel arrived late and the box was damaged.`,
  }));
}

/** Dear prices make cents out of a few hundred tokens, so budget arithmetic is visible. */
const PRICES = { input_per_mtok: 1000, output_per_mtok: 1000 };

describe('budgets, deadlines and live control', () => {
  const stack = useStack({ processingMs: 300, worker: true });

  test('a dry run sends nothing and estimates what the real run uses', async () => {
    const body = {
      model: 'gpt-4.1-mini',
      mode: 'batch',
      system_prompt: 'You are a support lead. Summarise the ticket in one sentence.',
      items: items(50, 'dry'),
      chunk_size: 20,
      max_output_tokens: 64,
    };
    stack.emulator.reset();
    const before = await stack.db.query('SELECT count(*)::int AS n FROM batches');
    const dry = await stack.post('/v1/batches', { ...body, dry_run: true });
    assert.equal(dry.status, 200, dry.text);
    assert.equal(dry.body.object, 'batch_estimate');
    assert.equal(dry.body.item_count, 50);
    assert.deepEqual(
      dry.body.chunks.plan.map((c: any) => c.items),
      [20, 20, 10],
    );
    assert.equal(dry.body.input_token_method, 'tokenizer:o200k_base');
    assert.equal(dry.body.output_tokens.max, 50 * 64);
    const { low_usd, expected_usd, high_usd } = dry.body.cost;
    assert.ok(0 < low_usd && low_usd <= expected_usd && expected_usd <= high_usd, JSON.stringify(dry.body.cost));
    const estimate = await stack.post('/v1/batches/estimate', body);
    assert.deepEqual(estimate.body, dry.body, 'the estimate route gives the same answer');
    assert.equal(
      Object.values(stack.emulator.stats().requests).reduce((a, b) => a + b, 0),
      0,
      'no provider call',
    );
    assert.deepEqual((await stack.db.query('SELECT count(*)::int AS n FROM batches')).rows, before.rows, 'nothing stored');

    const real = await stack.post('/v1/batches', body);
    const done = await stack.waitForBatch(real.body.id);
    const actual = done.usage.input_tokens;
    const error = (dry.body.input_tokens - actual) / actual;
    console.log(`dry-run input token estimate ${dry.body.input_tokens} vs actual ${actual}: error ${(error * 100).toFixed(1)}%`);
    assert.ok(Math.abs(error) < 0.25, `estimate within 25% of the provider's count (${(error * 100).toFixed(1)}%)`);
    assert.ok(done.cost.spent_usd <= high_usd, 'actual spend below the high estimate');
  });

  test('a model with no known price is refused unless the request gives prices', async () => {
    const unknown = await stack.post('/v1/batches', { model: 'gpt-unreleased-9', items: items(1, 'p') });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.issues[0].message, /no price is known for openai\/gpt-unreleased-9/);
    const priced = await stack.post('/v1/batches', { model: 'gpt-unreleased-9', items: items(1, 'p'), prices: PRICES });
    assert.equal(priced.status, 202, priced.text);
    const done = await stack.waitForBatch(priced.body.id);
    assert.ok(done.cost.spent_usd > 0);
  });

  test('a budget that runs out waits in awaiting_budget, never overspends, and a raise lets it finish', async () => {
    const body = {
      model: 'gpt-4.1-mini',
      mode: 'batch',
      items: items(40, 'bud'),
      chunk_size: 10,
      max_parallel_chunks: 1,
      max_output_tokens: 40,
      prices: PRICES,
    };
    const estimate = await stack.post('/v1/batches/estimate', body);
    const reservePerChunk = estimate.body.cost.high_usd / 4;
    const limit = Number((reservePerChunk * 1.8).toFixed(4));
    const created = await stack.post('/v1/batches', { ...body, max_cost_usd: limit });
    assert.equal(created.status, 202, created.text);
    const id = created.body.id;

    const seen = new Set<string>();
    const waiting = await until(
      () => stack.get(`/v1/batches/${id}`),
      (r) => {
        seen.add(r.body.status);
        assert.ok(r.body.cost.spent_usd <= limit + 1e-9, `spent ${r.body.cost.spent_usd} over the limit ${limit}`);
        return r.body.status === 'awaiting_budget';
      },
    );
    assert.equal(waiting.body.cost.limit_usd, limit);
    assert.ok(waiting.body.counts.succeeded > 0 && waiting.body.counts.pending > 0, JSON.stringify(waiting.body.counts));
    assert.ok(waiting.body.cost.spent_usd + reservePerChunk > limit, 'the next chunk really does not fit');
    // It says why it waits, what it needs and what would let it go on.
    assert.ok(waiting.body.cost.budget.needed_usd > waiting.body.cost.budget.free_usd, JSON.stringify(waiting.body.cost));
    assert.match(
      waiting.body.status_reason,
      /waiting for budget: the next attempt needs \$[\d.]+ reserved .* leaves \$[\d.]+ free; raise max_cost_usd/,
    );

    // The validator refuses a limit below the spend and a deadline in the past, with reasons.
    const below = await stack.request(
      'PATCH',
      `/v1/batches/${id}/limits`,
      JSON.stringify({ max_cost_usd: waiting.body.cost.spent_usd / 2 }),
      { 'content-type': 'application/json' },
    );
    assert.equal(below.status, 400, below.text);
    assert.match(below.body.error.message, /below the \$[\d.]+ already spent/);
    const past = await stack.request('PATCH', `/v1/batches/${id}/limits`, JSON.stringify({ deadline: '2020-01-01T00:00:00Z' }), {
      'content-type': 'application/json',
    });
    assert.equal(past.status, 400, past.text);
    assert.match(past.body.error.message, /in the past/);
    await sleep(500);
    assert.equal((await stack.get(`/v1/batches/${id}`)).body.status, 'awaiting_budget', 'still waiting: nothing changed');

    const raised = await stack.request('PATCH', `/v1/batches/${id}/limits`, JSON.stringify({ max_cost_usd: limit * 10 }), {
      'content-type': 'application/json',
    });
    assert.equal(raised.status, 200, raised.text);
    assert.equal(raised.body.cost.limit_usd, limit * 10);
    const done = await stack.waitForBatch(id);
    assert.equal(done.status, 'completed');
    assert.equal(done.counts.succeeded, 40);

    // Cost truth: the batch's spend is the sum of its results' costs, to the cent.
    const results = await stack.get(`/v1/batches/${id}/results?limit=1000`);
    const sum = results.body.data.reduce((a: number, r: any) => a + r.cost_usd, 0);
    assert.ok(results.body.data.every((r: any) => r.cost_usd > 0 && r.usage.input_tokens > 0));
    assert.equal(Math.round(sum * 100), Math.round(done.cost.spent_usd * 100));
    const stored = await stack.db.query('SELECT cost_usd, max_cost_usd FROM batches WHERE id = $1', [id]);
    assert.equal(Math.round(stored.rows[0].cost_usd * 100), Math.round(sum * 100));
    // Stored as money is kept, to the nano-dollar: 6.1739999999999995 (a float's noise) is 6.174.
    assert.equal(stored.rows[0].max_cost_usd, Number((limit * 10).toFixed(9)), 'the raised limit is recorded');
  });

  test('on_budget_exhausted "stop" ends the batch instead of waiting', async () => {
    const body = {
      model: 'gpt-4.1-mini',
      mode: 'batch',
      items: items(20, 'stop'),
      chunk_size: 10,
      max_parallel_chunks: 1,
      max_output_tokens: 40,
      prices: PRICES,
    };
    const estimate = await stack.post('/v1/batches/estimate', body);
    const created = await stack.post('/v1/batches', {
      ...body,
      max_cost_usd: Number(((estimate.body.cost.high_usd / 2) * 1.2).toFixed(4)),
      on_budget_exhausted: 'stop',
    });
    const done = await stack.waitForBatch(created.body.id);
    assert.equal(done.status, 'budget_exhausted');
    assert.deepEqual(done.counts, { total: 20, succeeded: 10, failed: 0, cancelled: 10, pending: 0 });
    const cancelled = await stack.get(`/v1/batches/${created.body.id}/results?status=cancelled`);
    assert.equal(cancelled.body.total, 10);
    assert.equal(cancelled.body.data[0].error.code, 'budget_exhausted');
  });

  test('a deadline that falls mid-chunk cancels the provider batch, keeps partial results and ends timed_out', async () => {
    stack.emulator.setFaults({ processing_ms: 4000 });
    try {
      const cancelsBefore = stack.emulator.stats().batch_cancels;
      const created = await stack.post('/v1/batches', {
        model: 'gpt-4.1-mini',
        mode: 'batch',
        items: items(60, 'dl'),
        time_limit_seconds: 2,
      });
      assert.equal(created.status, 202, created.text);
      assert.ok(created.body.deadline);
      const done = await stack.waitForBatch(created.body.id);
      assert.equal(done.status, 'timed_out');
      assert.ok(stack.emulator.stats().batch_cancels > cancelsBefore, 'the emulator saw the cancel');
      assert.ok(done.counts.succeeded > 0, 'partial results were kept');
      assert.ok(done.counts.cancelled > 0, 'unfinished items are reported');
      assert.equal(done.counts.pending, 0);
      assert.equal(done.counts.succeeded + done.counts.cancelled, 60);
      const cancelled = await stack.get(`/v1/batches/${created.body.id}/results?status=cancelled&limit=1`);
      assert.equal(cancelled.body.total, done.counts.cancelled);
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('cancel through the API stops running provider batches and keeps what finished', async () => {
    stack.emulator.setFaults({ processing_ms: 5000 });
    try {
      const cancelsBefore = stack.emulator.stats().batch_cancels;
      const createdBefore = stack.emulator.stats().batches_created;
      const created = await stack.post('/v1/batches', {
        model: 'gpt-4.1-mini',
        mode: 'batch',
        items: items(30, 'cx'),
        chunk_size: 10,
        max_parallel_chunks: 2,
      });
      const id = created.body.id;
      await until(
        async () => stack.emulator.stats().batches_created,
        (n) => n >= createdBefore + 2,
      );
      const res = await stack.post(`/v1/batches/${id}/cancel`, {});
      assert.equal(res.status, 202, res.text);
      assert.ok(['cancelling', 'cancelled'].includes(res.body.status), res.body.status);
      const done = await stack.waitForBatch(id);
      assert.equal(done.status, 'cancelled');
      assert.equal(stack.emulator.stats().batch_cancels - cancelsBefore, 2, 'both running provider batches were cancelled');
      assert.equal(stack.emulator.stats().batches_created - createdBefore, 2, 'the third chunk never started');
      assert.equal(done.counts.total, done.counts.succeeded + done.counts.failed + done.counts.cancelled, JSON.stringify(done));
      assert.equal(done.counts.pending, 0);

      for (const action of ['cancel', 'pause', 'resume']) {
        const late = await stack.post(`/v1/batches/${id}/${action}`, {});
        assert.equal(late.status, 409, `${action}: ${late.text}`);
        assert.equal(late.body.error.type, 'batch_ended');
      }
      const late = await stack.request('PATCH', `/v1/batches/${id}/limits`, JSON.stringify({ max_cost_usd: 5 }), {
        'content-type': 'application/json',
      });
      assert.equal(late.status, 409);
      assert.equal((await stack.post('/v1/batches/batch_nope/cancel', {})).status, 404);
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('the list and the batch agree while it runs: same counts and cost', async () => {
    stack.emulator.setFaults({ processing_ms: 1500 });
    try {
      const created = await stack.post('/v1/batches', {
        model: 'gpt-4.1-mini',
        mode: 'batch',
        chunk_size: 10,
        max_parallel_chunks: 1,
        items: items(40, 'agree'),
      });
      // Part-way: some chunks done, others not.
      const one = await until(
        () => stack.get(`/v1/batches/${created.body.id}`),
        (r) => r.body.counts.succeeded >= 10 && r.body.counts.succeeded < 40,
        { timeoutMs: 60_000 },
      );
      const listed = (await stack.get('/v1/batches?limit=50')).body.data.find((b: any) => b.id === created.body.id);
      const again = (await stack.get(`/v1/batches/${created.body.id}`)).body;
      // The batch may move between the reads: the list's figures lie between the two single reads.
      assert.ok(
        listed.counts.succeeded >= one.body.counts.succeeded && listed.counts.succeeded <= again.counts.succeeded,
        JSON.stringify({ listed: listed.counts, one: one.body.counts }),
      );
      assert.ok(listed.cost.spent_usd >= one.body.cost.spent_usd && listed.cost.spent_usd <= again.cost.spent_usd);
      assert.ok(listed.cost.spent_usd > 0, 'not the stored row alone ($0.00 while it runs)');
      await stack.waitForBatch(created.body.id);
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test("a Temporal cancel (the UI's Cancel button) is as graceful as the API's", async () => {
    stack.emulator.setFaults({ processing_ms: 5000 });
    try {
      const cancelsBefore = stack.emulator.stats().batch_cancels;
      const createdBefore = stack.emulator.stats().batches_created;
      const created = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'batch', items: items(10, 'ui') });
      await until(
        async () => stack.emulator.stats().batches_created,
        (n) => n >= createdBefore + 1,
      );
      const running = await stack.get(`/v1/batches?status=running`);
      assert.ok(
        running.body.data.some((b: any) => b.id === created.body.id),
        'visibility shows it running',
      );
      await stack.client.workflow.getHandle(created.body.id).cancel();
      const done = await stack.waitForBatch(created.body.id);
      assert.equal(done.status, 'cancelled');
      assert.equal(stack.emulator.stats().batch_cancels - cancelsBefore, 1);
      assert.equal(done.counts.pending, 0);
      assert.equal(done.counts.succeeded + done.counts.cancelled, 10);
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('pause stops new chunks from starting; resume lets the batch finish', async () => {
    stack.emulator.setFaults({ processing_ms: 600 });
    try {
      const createdBefore = stack.emulator.stats().batches_created;
      const created = await stack.post('/v1/batches', {
        model: 'gpt-4.1-mini',
        mode: 'batch',
        items: items(40, 'pz'),
        chunk_size: 10,
        max_parallel_chunks: 1,
      });
      const id = created.body.id;
      await until(
        async () => stack.emulator.stats().batches_created,
        (n) => n >= createdBefore + 1,
      );
      const paused = await stack.post(`/v1/batches/${id}/pause`, {});
      assert.equal(paused.status, 200, paused.text);
      assert.equal(paused.body.status, 'paused');
      await sleep(2500);
      const during = await stack.get(`/v1/batches/${id}`);
      assert.equal(during.body.status, 'paused');
      assert.equal(stack.emulator.stats().batches_created - createdBefore, 1, 'no new chunk started while paused');
      assert.equal(during.body.counts.succeeded, 10, 'the running chunk finished');
      const resumed = await stack.post(`/v1/batches/${id}/resume`, {});
      assert.equal(resumed.status, 200);
      const done = await stack.waitForBatch(id);
      assert.equal(done.status, 'completed');
      assert.equal(done.counts.succeeded, 40);
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('batches are listed through Temporal visibility, filtered and paged', async () => {
    const completed = await until(
      () => stack.get('/v1/batches?status=completed&limit=100'),
      (r) => r.status === 200 && r.body.data.length >= 3,
    );
    assert.ok(completed.body.data.every((b: any) => b.status === 'completed'));
    const cancelled = await stack.get('/v1/batches?status=cancelled');
    assert.ok(cancelled.body.data.length >= 1 && cancelled.body.data.every((b: any) => b.status === 'cancelled'));
    const byModel = await stack.get('/v1/batches?model=gpt-unreleased-9');
    assert.equal(byModel.body.data.length, 1);
    const first = await stack.get('/v1/batches?limit=2');
    assert.equal(first.body.data.length, 2);
    assert.ok(first.body.next_cursor);
    const second = await stack.get(`/v1/batches?limit=2&cursor=${first.body.next_cursor}`);
    assert.equal(second.body.data.length, 2);
    assert.ok(!second.body.data.some((b: any) => first.body.data.some((a: any) => a.id === b.id)), 'pages do not overlap');
    const bad = await stack.get("/v1/batches?status=done'--");
    assert.equal(bad.status, 400);
  });
});
