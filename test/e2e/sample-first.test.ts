import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { useStack, type TestStack } from '../helpers/stack.js';
import { assertBatchAddsUp } from '../helpers/invariants.js';
import { until } from '../helpers/wait.js';

function items(n: number, prefix: string) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    content: `Please summarise support ticket number ${i}: the parcel arrived late and the box was damaged.`,
  }));
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Dear prices make cents out of a few hundred tokens, so the projection's arithmetic is visible. */
const PRICES = { input_per_mtok: 1000, output_per_mtok: 1000 };

const base = { model: 'gpt-4.1-mini', mode: 'batch', max_output_tokens: 64, prices: PRICES };

async function awaitingApproval(stack: TestStack, id: string) {
  return until(
    async () => (await stack.get(`/v1/batches/${id}`)).body,
    (b) => b.status === 'awaiting_approval' || ['completed', 'failed', 'cancelled'].includes(b.status),
    { timeoutMs: 30_000, what: `batch ${id} awaiting approval` },
  );
}

/** Each item has exactly one result row, and the provider saw each item once: realtime calls plus batch lines. */
async function sentOnce(stack: TestStack, id: string, total: number, sample: number, rest: number) {
  const stats = stack.emulator.stats();
  assert.equal(stats.chat_completions, sample, 'the sample went realtime, once per item');
  assert.equal(stats.lines_received, rest, 'the rest went in provider batches, the sample excluded');
  const rows = await stack.db.query('SELECT count(*)::int AS n, count(DISTINCT seq)::int AS d FROM results WHERE batch_id = $1', [id]);
  assert.deepEqual(rows.rows[0], { n: total, d: total });
}

async function resultCostSum(stack: TestStack, id: string): Promise<number> {
  const { rows } = await stack.db.query('SELECT COALESCE(sum(prior_cost_usd + cost_usd), 0) AS c FROM results WHERE batch_id = $1', [id]);
  return Number(rows[0].c);
}

describe('sample first, then approve', () => {
  const stack = useStack({ processingMs: 200, worker: true });

  test('manual: the sample is readable with a projection; approve runs the rest, no item sent twice', async () => {
    stack.emulator.reset();
    const submit = await stack.post('/v1/batches', { ...base, items: items(40, 'm'), chunk_size: 10, sample: { size: 10 } });
    assert.equal(submit.status, 202, submit.text);
    const id = submit.body.id;
    const waiting = await awaitingApproval(stack, id);
    assert.equal(waiting.status, 'awaiting_approval');
    assert.match(waiting.status_reason, /approve/);
    assert.equal(waiting.sample.size, 10);
    assert.equal(waiting.sample.succeeded, 10);
    assert.equal(waiting.sample.success_rate, 1);
    assert.ok(waiting.sample.cost_usd > 0);
    assert.ok(waiting.sample.projected_total_usd > waiting.sample.cost_usd, JSON.stringify(waiting.sample));
    assert.equal(stack.emulator.stats().lines_received, 0, 'nothing but the sample sent before approval');

    const sample = await stack.get(`/v1/batches/${id}/results?sample=true`);
    assert.equal(sample.status, 200, sample.text);
    assert.equal(sample.body.total, 10);
    assert.ok(sample.body.data.every((r: any) => r.status === 'succeeded' && r.path === 'realtime' && r.output));

    const approved = await stack.post(`/v1/batches/${id}/approve`, {});
    assert.equal(approved.status, 200, approved.text);
    const again = await stack.post(`/v1/batches/${id}/approve`, {});
    assert.equal(again.status, 409, 'a second approve is refused: the batch no longer awaits approval');

    const done = await stack.waitForBatch(id, 60_000);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.counts.succeeded + done.counts.failed + done.counts.cancelled, 40);
    assert.equal(done.counts.succeeded, 40);
    assert.equal(done.sample.size, 10, 'the sample stays on the batch');
    await sentOnce(stack, id, 40, 10, 30);
    assert.ok(Math.abs(done.cost.spent_usd - (await resultCostSum(stack, id))) < 1e-9, 'spend is the sum of the results');
    const ended = await stack.post(`/v1/batches/${id}/approve`, {});
    assert.equal(ended.status, 409);
  });

  test('manual: reject ends the batch failed; only the sample was sent', async () => {
    stack.emulator.reset();
    const submit = await stack.post('/v1/batches', { ...base, items: items(20, 'r'), chunk_size: 10, sample: { size: 5 } });
    const id = submit.body.id;
    assert.equal((await awaitingApproval(stack, id)).status, 'awaiting_approval');
    const rejected = await stack.post(`/v1/batches/${id}/reject`, { reason: 'outputs too long' });
    assert.equal(rejected.status, 200, rejected.text);
    const done = await stack.waitForBatch(id, 30_000);
    assert.equal(done.status, 'failed');
    assert.match(done.error, /rejected after the sample: outputs too long/);
    assert.equal(done.counts.succeeded, 5, 'the sample counts toward the batch');
    assert.equal(done.counts.succeeded + done.counts.failed + done.counts.cancelled, 20);
    await sentOnce(stack, id, 20, 5, 0);
    assert.ok(Math.abs(done.cost.spent_usd - (await resultCostSum(stack, id))) < 1e-9);
  });

  test('auto: a sample below min_success_rate rejects the batch', async () => {
    stack.emulator.reset();
    // Every realtime call is refused (400, not retryable): the sample fails throughout.
    stack.emulator.setFaults({ http: [{ path: '/v1/chat/completions', status: 400, count: 1000 }] });
    try {
      const submit = await stack.post('/v1/batches', {
        ...base,
        items: items(20, 'a'),
        chunk_size: 10,
        sample: { size: 5, approve: 'auto', min_success_rate: 0.8 },
      });
      const done = await stack.waitForBatch(submit.body.id, 30_000);
      assert.equal(done.status, 'failed');
      assert.match(done.error, /0 of 5 succeeded.*min_success_rate 0.8/);
      assert.equal(done.sample.success_rate, 0);
      assert.equal(stack.emulator.stats().lines_received, 0, 'the rest was never sent');
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('auto: a projection above max_cost_usd rejects the batch', async () => {
    stack.emulator.reset();
    const submit = await stack.post('/v1/batches', {
      ...base,
      items: items(40, 'c'),
      chunk_size: 10,
      max_cost_usd: 0.5,
      sample: { size: 4, approve: 'auto' },
    });
    assert.equal(submit.status, 202, submit.text);
    const done = await stack.waitForBatch(submit.body.id, 30_000);
    assert.equal(done.status, 'failed', JSON.stringify(done));
    assert.match(done.error, /projected total \$[\d.]+ exceeds max_cost_usd \$0.5/);
    assert.ok(done.sample.projected_total_usd > 0.5 && done.sample.cost_usd < 0.5, JSON.stringify(done.sample));
    assert.equal(stack.emulator.stats().lines_received, 0);
  });

  /** Follows a batch to its end, failing the moment its spend passes `limit()` (which a raise may move). */
  async function watchSpend(id: string, limit: () => number) {
    const done = await until(
      () => stack.get(`/v1/batches/${id}`),
      (r) => {
        assert.ok(r.body.cost.spent_usd <= limit() + 1e-9, `spent ${r.body.cost.spent_usd} over the limit ${limit()}`);
        return ['completed', 'completed_with_failures', 'failed', 'cancelled', 'budget_exhausted', 'timed_out'].includes(r.body.status);
      },
      { intervalMs: 100, timeoutMs: 60_000, what: `batch ${id} ended` },
    );
    return done.body;
  }

  test('a sample whose worst case does not fit max_cost_usd is not sent: "stop" ends the batch budget_exhausted', async () => {
    stack.emulator.reset();
    const request = { ...base, items: items(20, 'w'), chunk_size: 10, sample: { size: 10, approve: 'auto' } };
    const estimate = await stack.post('/v1/batches/estimate', request);
    // Less than half the worst case of the whole batch: far from what ten realtime items may cost.
    const limit = Number((estimate.body.cost.high_usd / 8).toFixed(6));
    const submit = await stack.post('/v1/batches', { ...request, max_cost_usd: limit, on_budget_exhausted: 'stop' });
    assert.equal(submit.status, 202, submit.text);
    assert.ok(
      submit.body.warnings?.some((w: string) =>
        /below the worst case of the sample \(\$[\d.]+: 10 items realtime.*ends budget_exhausted/.test(w),
      ),
      JSON.stringify(submit.body.warnings),
    );
    const done = await watchSpend(submit.body.id, () => limit);
    assert.equal(done.status, 'budget_exhausted', JSON.stringify(done));
    assert.equal(done.cost.spent_usd, 0);
    assert.equal(stack.emulator.stats().chat_completions, 0, 'no sampled item was sent');
    await assertBatchAddsUp(
      stack,
      done,
      request.items.map((i) => i.id),
    );
  });

  test('"wait": the sample waits in awaiting_budget, a raise lets it run, the spend never passes the limit', async () => {
    stack.emulator.reset();
    const request = { ...base, items: items(20, 'x'), chunk_size: 10, sample: { size: 4, approve: 'auto' } };
    const estimate = await stack.post('/v1/batches/estimate', request);
    let limit = Number((estimate.body.cost.high_usd / 20).toFixed(6));
    const submit = await stack.post('/v1/batches', { ...request, max_cost_usd: limit, on_budget_exhausted: 'wait' });
    assert.equal(submit.status, 202, submit.text);
    assert.ok(
      submit.body.warnings?.some((w: string) => /worst case of the sample .* waits in awaiting_budget before the sample runs/.test(w)),
      JSON.stringify(submit.body.warnings),
    );
    const id = submit.body.id;
    const waiting = await until(
      () => stack.get(`/v1/batches/${id}`),
      (r) => r.body.status === 'awaiting_budget',
      { timeoutMs: 30_000, what: 'the sample waits for budget' },
    );
    assert.match(waiting.body.status_reason, /waiting for budget: the sample needs \$[\d.]+ reserved/);
    assert.equal(stack.emulator.stats().chat_completions, 0);
    limit = estimate.body.cost.high_usd;
    const raised = await stack.request('PATCH', `/v1/batches/${id}/limits`, JSON.stringify({ max_cost_usd: limit }), {
      'content-type': 'application/json',
    });
    assert.equal(raised.status, 200, raised.text);
    const done = await watchSpend(id, () => limit);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    await sentOnce(stack, id, 20, 4, 16);
    await assertBatchAddsUp(
      stack,
      done,
      request.items.map((i) => i.id),
    );
  });

  test('the sample’s spend counts against the limit before the chunks that hold its items report', async () => {
    stack.emulator.reset();
    // An output cap near the answers' real length keeps each chunk's reservation close to its cost,
    // so spend the ledger did not see would show as spend over the limit.
    const request = {
      ...base,
      max_output_tokens: 12,
      items: items(40, 'y'),
      chunk_size: 10,
      max_parallel_chunks: 4,
      sample: { size: 8, approve: 'auto' },
    };
    const free = await stack.waitForBatch((await stack.post('/v1/batches', request)).body.id, 60_000);
    assert.equal(free.status, 'completed', JSON.stringify(free));
    // A limit between the sample's cost and the whole batch's: the batch must stop short of it.
    const limit = Number((free.sample.cost_usd + (free.cost.spent_usd - free.sample.cost_usd) / 3).toFixed(6));
    stack.emulator.reset();
    // Approved by hand: the auto rule would reject a projection above the limit before any chunk ran.
    const submit = await stack.post('/v1/batches', {
      ...request,
      items: items(40, 'z'),
      sample: { size: 8 },
      max_cost_usd: limit,
      on_budget_exhausted: 'stop',
    });
    assert.equal(submit.status, 202, submit.text);
    assert.equal((await awaitingApproval(stack, submit.body.id)).status, 'awaiting_approval');
    assert.equal((await stack.post(`/v1/batches/${submit.body.id}/approve`, {})).status, 200);
    const done = await watchSpend(submit.body.id, () => limit);
    assert.equal(done.status, 'budget_exhausted', JSON.stringify(done));
    assert.ok(done.cost.spent_usd <= limit, `spent ${done.cost.spent_usd} within ${limit}`);
    assert.ok(done.sample.cost_usd > 0, 'the sample ran');
    await assertBatchAddsUp(
      stack,
      done,
      Array.from({ length: 40 }, (_, i) => `z${i}`),
    );
  });

  test('auto: approves at once; the projection of a 50-item sample against the final cost of 1,000 items', async () => {
    stack.emulator.reset();
    // Prompts of varied length, and structured outputs whose length the emulator varies per item.
    const varied = Array.from({ length: 1000 }, (_, i) => ({
      id: `p${i}`,
      content: `Ticket ${i}: ${'the parcel arrived late and the box was damaged; '.repeat(1 + ((i * 7) % 13))}`,
    }));
    const schema = {
      type: 'object',
      properties: {
        summary: { type: 'string', minLength: 10, maxLength: 400 },
        tags: { type: 'array', items: { type: 'string', maxLength: 30 }, minItems: 0, maxItems: 8 },
      },
      required: ['summary', 'tags'],
      additionalProperties: false,
    };
    const submit = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'batch',
      max_output_tokens: 512,
      response_format: { type: 'json_schema', json_schema: { name: 'ticket', schema, strict: true } },
      items: varied,
      chunk_size: 500,
      max_parallel_chunks: 2,
      sample: { size: 50, approve: 'auto' },
    });
    assert.equal(submit.status, 202, submit.text);
    const done = await stack.waitForBatch(submit.body.id, 60_000);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.counts.succeeded, 1000);
    await sentOnce(stack, submit.body.id, 1000, 50, 950);
    const final = done.cost.spent_usd;
    const error = Math.abs(done.sample.projected_total_usd - final) / final;
    console.log(
      `sample-first projection: projected $${done.sample.projected_total_usd} vs final $${final} for 1,000 items (sample 50): error ${(error * 100).toFixed(2)}%`,
    );
    assert.ok(error < 0.25, `projection within 25% (${(error * 100).toFixed(2)}%)`);
  });

  test('a lapsed approval window ends the batch cancelled; a cancel while awaiting approval ends it too', async () => {
    stack.emulator.reset();
    const lapsing = await stack.post('/v1/batches', {
      ...base,
      items: items(10, 'l'),
      sample: { size: 2, approval_window_seconds: 2 },
    });
    const cancelling = await stack.post('/v1/batches', { ...base, items: items(10, 'x'), sample: { size: 2 } });
    assert.equal((await awaitingApproval(stack, cancelling.body.id)).status, 'awaiting_approval');
    const cancel = await stack.post(`/v1/batches/${cancelling.body.id}/cancel`, {});
    assert.equal(cancel.status, 202, cancel.text);
    const cancelled = await stack.waitForBatch(cancelling.body.id, 30_000);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.counts.succeeded, 2);
    assert.equal(cancelled.counts.cancelled, 8);

    const lapsed = await stack.waitForBatch(lapsing.body.id, 30_000);
    assert.equal(lapsed.status, 'cancelled');
    assert.match(lapsed.error, /approval window lapsed/);
    assert.equal(lapsed.counts.succeeded + lapsed.counts.cancelled, 10);
    assert.equal(stack.emulator.stats().lines_received, 0, 'neither sent more than its sample');
    assert.equal(stack.emulator.stats().chat_completions, 4);
  });

  test('CLI: drover submit --sample N --yes shows the sample, approves and follows to the end; approve of an ended batch exits 7', async () => {
    stack.emulator.reset();
    const dir = await mkdtemp(join(tmpdir(), 'drover-sample-'));
    try {
      const file = join(dir, 'items.jsonl');
      await writeFile(
        file,
        items(12, 'cli')
          .map((i) => JSON.stringify(i))
          .join('\n') + '\n',
      );
      const env = {
        PATH: process.env.PATH,
        DROVER_URL: stack.api.url,
        DROVER_API_KEY: stack.adminKey,
        DROVER_POLL_MS: '400',
        NO_COLOR: '1',
      };
      const drover = (...args: string[]) =>
        promisify(execFile)(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: REPO_ROOT, env, timeout: 60_000 }).then(
          (r) => ({ code: 0, ...r }),
          (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
        );
      const run = await drover('submit', file, '-m', 'gpt-4.1-mini', '--mode', 'batch', '--sample', '3', '--yes');
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /sample: 3 of 3 succeeded \(100\.0%\), cost .*; projected total/);
      assert.match(run.stderr, /approved/);
      assert.equal(stack.emulator.stats().chat_completions, 3);
      assert.equal(stack.emulator.stats().lines_received, 9);
      const id = /batch (batch_\w+) started/.exec(run.stderr)?.[1];
      assert.ok(id, run.stderr);
      const again = await drover('approve', id);
      assert.equal(again.code, 7, again.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
