import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TERMINAL_BATCH_STATUSES } from '../../domain/responses.js';
import { type TestStack, useStack } from '../helpers/stack.js';
import { sleep } from '../helpers/wait.js';

const SCHEMA = {
  type: 'object',
  properties: { topic: { type: 'string', enum: ['billing', 'shipping', 'other'] }, urgent: { type: 'boolean' } },
  required: ['topic', 'urgent'],
  additionalProperties: false,
};
const response_format = { type: 'json_schema', json_schema: { name: 'triage', schema: SCHEMA, strict: true } };

type Mode = 'batch' | 'realtime';
const MODES: Mode[] = ['batch', 'realtime'];

function items(n: number, prefix: string) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    content: `Ticket ${i}: my parcel has not arrived and I was charged twice.`,
  }));
}

/**
 * Small batches that spread a storm: in batch mode 15 chunks of 2 run at once, so 30 refused
 * answers cost each chunk about two retries (2 s, then 4 s: Temporal's backoff); in realtime
 * mode 3 chunks of 10 call at once.
 */
function body(mode: Mode, prefix: string, n: number, extra: Record<string, unknown> = {}) {
  const shape = mode === 'batch' ? { chunk_size: 2, max_parallel_chunks: 15 } : { chunk_size: 10, max_parallel_chunks: 3 };
  return { model: 'gpt-4.1-mini', mode, response_format, max_attempts: 3, items: items(n, prefix), ...shape, ...extra };
}

interface Watched {
  batch: any;
  ms: number;
  /** The highest `cost.spent_usd` the API showed while the batch ran. */
  maxShownUsd: number;
  /** The highest sum of result costs in the store while it ran: what the provider billed so far. */
  maxStoredUsd: number;
}

/** Submits a batch and polls it every 200 ms until it ends, recording the highest spend seen. */
async function run(stack: TestStack, request: Record<string, unknown>): Promise<Watched> {
  const t0 = Date.now();
  const created = await stack.post('/v1/batches', request);
  assert.equal(created.status, 202, created.text);
  const id: string = created.body.id;
  let maxShownUsd = 0;
  let maxStoredUsd = 0;
  for (;;) {
    const { body: batch } = await stack.get(`/v1/batches/${id}`);
    const { rows } = await stack.db.query(
      'SELECT COALESCE(sum(prior_cost_usd + cost_usd), 0)::text AS usd FROM results WHERE batch_id = $1',
      [id],
    );
    maxShownUsd = Math.max(maxShownUsd, batch.cost.spent_usd);
    maxStoredUsd = Math.max(maxStoredUsd, Number(rows[0].usd));
    if (TERMINAL_BATCH_STATUSES.includes(batch.status)) return { batch, ms: Date.now() - t0, maxShownUsd, maxStoredUsd };
    if (Date.now() - t0 > 60_000) throw new Error(`batch ${id} still ${batch.status} after 60 s: ${JSON.stringify(batch.counts)}`);
    await sleep(200);
  }
}

/**
 * Every item closed once, the counts adding up, and the spend equal to the sum of the result
 * costs: the store keeps both as decimals, the API shows the spend rounded to a millionth.
 */
async function assertAddsUp(stack: TestStack, batch: any, request: { items: Array<{ id: string }> }): Promise<any[]> {
  const n = request.items.length;
  const c = batch.counts;
  assert.equal(c.succeeded + c.failed + c.cancelled, n, `counts add up: ${JSON.stringify(c)}`);
  assert.equal(c.pending, 0, 'nothing left pending');
  const rows: any[] = (await stack.get(`/v1/batches/${batch.id}/results?limit=1000`)).body.data;
  assert.deepEqual(rows.map((r) => r.id).sort(), request.items.map((i) => i.id).sort(), 'every item id once in the results');
  assert.ok(
    rows.every((r) => r.status !== 'pending'),
    'every result closed',
  );
  const { rows: stored } = await stack.db.query(
    `SELECT b.cost_usd::text AS spent, (b.cost_usd - COALESCE(sum(r.prior_cost_usd + r.cost_usd), 0))::text AS gap
     FROM batches b LEFT JOIN results r ON r.batch_id = b.id WHERE b.id = $1 GROUP BY b.id, b.cost_usd`,
    [batch.id],
  );
  assert.ok(Math.abs(Number(stored[0].gap)) < 1e-9, `stored spend ${stored[0].spent} is the sum of result costs (gap ${stored[0].gap})`);
  const sum = rows.reduce((s, r) => s + r.cost_usd, 0);
  assert.ok(Math.abs(sum - Number(stored[0].spent)) < 1e-9, `results' costs ${sum} add up to the spend ${stored[0].spent}`);
  assert.ok(Math.abs(batch.cost.spent_usd - Number(stored[0].spent)) <= 5e-7, `shown spend ${batch.cost.spent_usd}`);
  return rows;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Issue 10: storms of refusals and answers that cannot be parsed. Each case drives the real
 * stack (Temporal, PostgreSQL, the API, a worker process) through the emulator's faults, in batch
 * mode and in realtime mode, and checks that the batch ends in the right state with its counts
 * and its spend adding up.
 */
describe('fault storms', () => {
  const stack = useStack({ processingMs: 300, worker: true });

  test('30 consecutive 500/503 answers to create: every item succeeds, one provider batch per chunk', async () => {
    stack.emulator.reset();
    stack.emulator.setFaults({
      http: [
        { path: '/v1/batches', method: 'POST', status: 500, count: 15 },
        { path: '/v1/batches', method: 'POST', status: 503, count: 15 },
        { path: '/v1/chat/completions', method: 'POST', status: 500, count: 15 },
        { path: '/v1/chat/completions', method: 'POST', status: 503, count: 15 },
      ],
    });
    const requests = MODES.map((mode) => body(mode, `create5xx-${mode}`, 30));
    const [batch, realtime] = await Promise.all(requests.map((r) => run(stack, r)));
    const stats = stack.emulator.stats();
    console.log(
      `create 5xx storm: batch mode ${seconds(batch!.ms)}, realtime ${seconds(realtime!.ms)}; ${stats.faults_injected.http} refusals`,
    );
    assert.equal(stats.faults_injected.http, 60, 'both storms blew in full');
    for (const [i, w] of [batch!, realtime!].entries()) {
      assert.equal(w.batch.status, 'completed', JSON.stringify(w.batch.counts));
      assert.equal(w.batch.counts.succeeded, 30);
      await assertAddsUp(stack, w.batch, requests[i]!);
    }
    assert.equal(stats.batches_created, 15, 'a refused create made no batch: one provider batch per chunk');
    assert.equal(stats.chat_completions, 30, 'a refused call is not billed: one answer per realtime item');
  });

  test('30 consecutive 500/503 answers to poll: the batch waits them out and completes', async () => {
    stack.emulator.reset();
    stack.emulator.setFaults({
      http: [
        { path: '/v1/batches/', method: 'GET', status: 500, count: 15 },
        { path: '/v1/batches/', method: 'GET', status: 503, count: 15 },
      ],
    });
    const request = body('batch', 'poll5xx', 30);
    const w = await run(stack, request);
    const stats = stack.emulator.stats();
    console.log(`poll 5xx storm: ${seconds(w.ms)}; ${stats.faults_injected.http} refusals`);
    assert.equal(stats.faults_injected.http, 30);
    assert.equal(w.batch.status, 'completed', JSON.stringify(w.batch.counts));
    assert.equal(w.batch.counts.succeeded, 30);
    assert.equal(stats.batches_created, 15, 'no chunk gave up on its batch and sent it again');
    assert.equal(stats.batch_cancels, 0);
    await assertAddsUp(stack, w.batch, request);
  });

  test('a 429 storm with Retry-After: every item succeeds; each refusal waited out for its Retry-After', async () => {
    stack.emulator.reset();
    stack.emulator.setFaults({
      http: [
        { path: '/v1/batches', method: 'POST', status: 429, count: 30, retry_after_s: 1 },
        { path: '/v1/chat/completions', method: 'POST', status: 429, count: 30, retry_after_s: 0.5 },
      ],
    });
    const requests = MODES.map((mode) => body(mode, `storm429-${mode}`, 30));
    const [batch, realtime] = await Promise.all(requests.map((r) => run(stack, r)));
    const stats = stack.emulator.stats();
    console.log(`429 storm: batch mode ${seconds(batch!.ms)}, realtime ${seconds(realtime!.ms)}; ${stats.faults_injected.http} refusals`);
    assert.equal(stats.faults_injected.http, 60);
    for (const [i, w] of [batch!, realtime!].entries()) {
      assert.equal(w.batch.status, 'completed', JSON.stringify(w.batch.counts));
      assert.equal(w.batch.counts.succeeded, 30);
      await assertAddsUp(stack, w.batch, requests[i]!);
    }
    assert.equal(stats.batches_created, 15);
    assert.equal(stats.chat_completions, 30);
    // 30 refusals over 15 chunks are two rounds of 1 s; over 30 calls, one of 0.5 s.
    assert.ok(batch!.ms >= 2000, `batch mode waited for Retry-After (${batch!.ms} ms)`);
    assert.ok(realtime!.ms >= 500, `realtime waited for Retry-After (${realtime!.ms} ms)`);
  });

  /** What the unlimited malformed batches spent, per mode: the limited case's limit must bind. */
  const unlimitedSpend: Partial<Record<Mode, number>> = {};
  let realtimeCalls = 0;

  test('malformed JSON on every answer, max_attempts 3: every item fails, each answer billed', async () => {
    stack.emulator.reset();
    stack.emulator.setFaults({ malformed_json: { every: 1, once: false } });
    const requests = MODES.map((mode) => body(mode, `malformed-${mode}`, 20, { max_output_tokens: 40 }));
    const [batch, realtime] = await Promise.all(requests.map((r) => run(stack, r)));
    const stats = stack.emulator.stats();
    realtimeCalls = stats.chat_completions;
    console.log(
      `malformed storm: batch mode ${seconds(batch!.ms)} (${stats.lines_received} lines sent, $${batch!.batch.cost.spent_usd}), ` +
        `realtime ${seconds(realtime!.ms)} (${stats.chat_completions} calls, $${realtime!.batch.cost.spent_usd})`,
    );
    for (const [i, w] of [batch!, realtime!].entries()) {
      assert.equal(w.batch.status, 'failed', JSON.stringify(w.batch.counts));
      assert.equal(w.batch.counts.failed, 20);
      const rows = await assertAddsUp(stack, w.batch, requests[i]!);
      assert.ok(
        rows.every((r) => r.error?.code === 'invalid_json' && r.cost_usd > 0),
        JSON.stringify(rows[0]),
      );
      unlimitedSpend[MODES[i]!] = Number(w.batch.cost.spent_usd);
    }
    assert.equal(stats.lines_received, 60, 'batch mode: three attempts of 20 lines');
  });

  // A realtime attempt makes one call per item; a repair waits for the chunk's next attempt.
  test('malformed JSON in realtime: at most max_attempts calls per item', () => {
    assert.ok(realtimeCalls > 0, 'the malformed realtime batch ran');
    assert.ok(realtimeCalls <= 60, `20 items, max_attempts 3: ${realtimeCalls} calls`);
  });

  /**
   * The malformed batch again, in two chunks of 10, under a limit of `share` of the pair's worst
   * case (the estimate's `high_usd`, one attempt with maximal outputs): above half, the first
   * chunk's worst case fits, the second's does not beside it. Unlimited, the same items cost more.
   */
  async function underLimit(mode: Mode, share: number) {
    stack.emulator.reset();
    stack.emulator.setFaults({ malformed_json: { every: 1, once: false } });
    const request = body(mode, `budget-${mode}-${share}`, 20, {
      max_output_tokens: 40,
      on_budget_exhausted: 'stop',
      chunk_size: 10,
      max_parallel_chunks: 2,
    });
    const estimate = await stack.post('/v1/batches/estimate', request);
    assert.equal(estimate.status, 200, estimate.text);
    const limit = Number((estimate.body.cost.high_usd * share).toPrecision(6));
    const w = await run(stack, { ...request, max_cost_usd: limit });
    console.log(
      `malformed under a limit of ${share} x high, ${mode}: ${w.batch.status} in ${seconds(w.ms)}; limit $${limit}, ` +
        `highest spend shown $${w.maxShownUsd}, in the store $${w.maxStoredUsd}; unlimited $${unlimitedSpend[mode]}; ` +
        `counts ${JSON.stringify(w.batch.counts)}`,
    );
    assert.ok(w.maxShownUsd <= limit + 1e-9, `${mode}: spend shown $${w.maxShownUsd} above the limit $${limit}`);
    assert.ok(w.maxStoredUsd <= limit + 1e-9, `${mode}: spend in the store $${w.maxStoredUsd} above the limit $${limit}`);
    assert.ok((unlimitedSpend[mode] ?? 0) > limit, `the limit binds: unlimited spend $${unlimitedSpend[mode]}`);
    assert.equal(w.batch.status, 'budget_exhausted', JSON.stringify(w.batch.counts));
    assert.equal(w.batch.counts.succeeded, 0, 'no answer could be parsed');
    await assertAddsUp(stack, w.batch, request);
  }

  test('malformed JSON under a limit of 3/4 of the worst case, batch mode: spend never above it at any poll', () =>
    underLimit('batch', 0.75));

  // Each repair attempt is reserved before it is sent: with the limit just above one chunk's
  // worst case, the second attempt waits rather than crosses it.
  test('malformed JSON under a limit just above one chunk, batch mode: spend never above it', () => underLimit('batch', 0.55));

  // Realtime attempts are reserved one by one too.
  test('malformed JSON under a limit of 3/4 of the worst case, realtime: spend never above it at any poll', () =>
    underLimit('realtime', 0.75));
});
