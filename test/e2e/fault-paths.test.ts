import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';
import { type TestStack, useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

function items(n: number, prefix: string) {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, content: `Classify ticket ${i}: the parcel arrived late.` }));
}

const BATCH = { model: 'gpt-4.1-mini', mode: 'batch', chunk_size: 10, max_attempts: 2 };
const ENDED = ['completed', 'completed_with_failures', 'failed', 'cancelled', 'timed_out', 'budget_exhausted'];

/** Every item has exactly one outcome, the counts add up, and the spend is the sum of the result costs. */
async function assertAddsUp(stack: TestStack, batch: any, itemCount: number) {
  const c = batch.counts;
  assert.equal(c.succeeded + c.failed + c.cancelled, itemCount, `counts add up: ${JSON.stringify(c)}`);
  assert.equal(c.pending, 0, 'nothing left pending');
  const { rows } = await stack.db.query(
    `SELECT count(*)::int AS n, count(DISTINCT seq)::int AS distinct_seqs, COALESCE(sum(cost_usd + prior_cost_usd), 0)::float AS cost
     FROM results WHERE batch_id = $1 AND status <> 'pending'`,
    [batch.id],
  );
  assert.equal(rows[0].n, itemCount, 'one closed result row per item');
  assert.equal(rows[0].distinct_seqs, itemCount, 'every item once');
  assert.ok(
    Math.abs(rows[0].cost - batch.cost.spent_usd) < 1e-9,
    `spend ${batch.cost.spent_usd} is the sum of result costs ${rows[0].cost}`,
  );
}

/** How many lines the provider has answered (and billed) in the one provider batch of a batch. */
async function answeredByProvider(stack: TestStack, batchId: string): Promise<number> {
  const { rows } = await stack.db.query('SELECT provider_batch_id FROM provider_jobs WHERE batch_id = $1', [batchId]);
  const id = rows[0]?.provider_batch_id as string | undefined;
  if (!id) return 0;
  const provider = new OpenAI({ baseURL: stack.emulator.openaiBaseURL, apiKey: 'test' });
  return (await provider.batches.retrieve(id)).request_counts?.completed ?? 0;
}

/** Chunk 0 of a batch, once Temporal says it runs. */
async function runningChunk(stack: TestStack, batchId: string) {
  const chunk = stack.client.workflow.getHandle(`${batchId}/chunk-0`);
  const status = () =>
    chunk.describe().then(
      (d) => d.status.name,
      () => 'NONE',
    );
  await until(status, (s) => s === 'RUNNING', { what: 'chunk 0 running' });
  return chunk;
}

/**
 * The failure paths of the core promise: whatever fails, a batch ends, its cancel ends, and its
 * counts add up. Each case drives the real stack through the emulator's faults or through
 * Temporal itself; nothing of Drover's is mocked.
 */
describe('every way a chunk can fail ends the batch', () => {
  const stack = useStack({ processingMs: 300, api: { DROVER_RECONCILE_MS: '2000' }, worker: true });

  test('a provider that refuses every create (400): the batch ends failed with the reason on every item', async () => {
    stack.emulator.reset();
    stack.emulator.setFaults({ http: [{ path: '/v1/batches', method: 'POST', status: 400, count: 1000 }] });
    const created = await stack.post('/v1/batches', { ...BATCH, items: items(30, 'c400') });
    assert.equal(created.status, 202, created.text);
    const done = await stack.waitForBatch(created.body.id, 60_000);
    stack.emulator.setFaults({});
    assert.equal(done.status, 'failed');
    assert.equal(done.counts.failed, 30);
    await assertAddsUp(stack, done, 30);
    const failedItem = (await stack.get(`/v1/batches/${done.id}/results?status=failed&limit=1`)).body.data[0];
    assert.equal(failedItem.error.code, 'chunk_failed');
    assert.match(failedItem.error.message, /400/);
  });

  test('a provider that refuses every poll: the provider batches are cancelled and the batch ends failed', async () => {
    stack.emulator.reset();
    // Batches that run long enough to be still running when they are cancelled, however busy the machine.
    stack.emulator.setFaults({ processing_ms: 10_000, http: [{ path: '/v1/batches/', method: 'GET', status: 400, count: 1000 }] });
    const created = await stack.post('/v1/batches', { ...BATCH, items: items(30, 'p400') });
    const done = await stack.waitForBatch(created.body.id, 60_000);
    stack.emulator.setFaults({});
    assert.equal(done.status, 'failed');
    assert.equal(stack.emulator.stats().batch_cancels, 3, 'each of the 3 provider batches is cancelled');
    await assertAddsUp(stack, done, 30);
  });

  test('the provider forgets its batches mid-run (a restart): the items are sent again and the batch completes', async () => {
    stack.emulator.reset();
    stack.emulator.setFaults({ processing_ms: 3000 });
    const created = await stack.post('/v1/batches', { ...BATCH, max_attempts: 3, items: items(30, 'gone') });
    await until(
      () =>
        stack.db.query(`SELECT count(*)::int AS n FROM provider_jobs WHERE batch_id = $1 AND provider_batch_id IS NOT NULL`, [
          created.body.id,
        ]),
      (r) => r.rows[0].n >= 1,
      { what: 'a provider batch submitted' },
    );
    stack.emulator.reset();
    const done = await stack.waitForBatch(created.body.id, 90_000);
    const failed = (await stack.get(`/v1/batches/${done.id}/results?status=failed&limit=1`)).body.data[0];
    assert.equal(done.status, 'completed', JSON.stringify({ counts: done.counts, failed }));
    await assertAddsUp(stack, done, 30);
  });

  test('a chunk terminated from the Temporal UI does not hang its batch', async () => {
    stack.emulator.reset();
    stack.emulator.setFaults({ processing_ms: 60_000 });
    const created = await stack.post('/v1/batches', { ...BATCH, items: items(20, 'term') });
    const id = created.body.id;
    const chunk = await runningChunk(stack, id);
    await until(
      () => stack.db.query('SELECT count(*)::int AS n FROM provider_jobs WHERE batch_id = $1 AND provider_batch_id IS NOT NULL', [id]),
      (r) => r.rows[0].n === 2,
      { what: 'both chunks submitted' },
    );
    await chunk.terminate('an operator pressed Terminate');
    await stack.client.workflow.getHandle(`${id}/chunk-1`).terminate('and again');
    const done = await stack.waitForBatch(id, 60_000);
    stack.emulator.setFaults({});
    assert.equal(done.status, 'failed');
    assert.equal(stack.emulator.stats().batch_cancels, 2, 'the provider batches of the terminated chunks stop billing');
    await assertAddsUp(stack, done, 20);
    const failed = (await stack.get(`/v1/batches/${id}/results?status=failed&limit=1`)).body.data[0];
    assert.match(failed.error.message, /terminated/);
  });

  test('a chunk terminated mid-batch: what its provider batch already answered is kept, not billed unrecorded', async () => {
    stack.emulator.reset();
    stack.emulator.setFaults({ processing_ms: 8_000 });
    const created = await stack.post('/v1/batches', { ...BATCH, items: items(10, 'salv') });
    const id = created.body.id;
    const chunk = await runningChunk(stack, id);
    // Terminated once the provider has answered some of the lines, not all.
    await until(
      () => answeredByProvider(stack, id),
      (n) => n >= 3,
      { what: 'a few lines answered' },
    );
    await chunk.terminate('an operator pressed Terminate');
    const done = await stack.waitForBatch(id, 60_000);
    stack.emulator.setFaults({});
    const answered = await answeredByProvider(stack, id);
    assert.ok(answered >= 3 && answered < 10, `${answered} of 10 answered before the cancel`);
    assert.equal(done.counts.succeeded, answered, 'every answer the provider billed is recorded');
    assert.equal(done.counts.failed, 10 - answered);
    assert.ok(done.cost.spent_usd > 0);
    await assertAddsUp(stack, done, 10);
    const failed = (await stack.get(`/v1/batches/${id}/results?status=failed&limit=1`)).body.data[0];
    assert.match(failed.error.message, /terminated/);
  });

  test('a chunk that fails mid-batch (a poll refused) keeps what its provider batch already answered', async () => {
    stack.emulator.reset();
    stack.emulator.setFaults({ processing_ms: 8_000 });
    const created = await stack.post('/v1/batches', { ...BATCH, items: items(10, 'fsalv') });
    const id = created.body.id;
    await until(
      () => answeredByProvider(stack, id),
      (n) => n >= 3,
      { what: 'a few lines answered' },
    );
    // The chunk's next poll is refused for good; the provider answers again afterwards.
    stack.emulator.setFaults({ http: [{ path: '/v1/batches/', method: 'GET', status: 400, count: 1 }] });
    const done = await stack.waitForBatch(id, 60_000);
    stack.emulator.setFaults({});
    const answered = await answeredByProvider(stack, id);
    assert.ok(answered >= 3 && answered < 10, `${answered} of 10 answered before the cancel`);
    assert.equal(done.status, 'completed_with_failures');
    assert.equal(done.counts.succeeded, answered, 'every answer the provider billed is recorded');
    await assertAddsUp(stack, done, 10);
    const failed = (await stack.get(`/v1/batches/${id}/results?status=failed&limit=1`)).body.data[0];
    assert.equal(failed.error.code, 'chunk_failed');
  });

  test('cancel after a chunk was terminated still reaches cancelled within a minute', async () => {
    stack.emulator.reset();
    stack.emulator.setFaults({ processing_ms: 60_000 });
    const created = await stack.post('/v1/batches', { ...BATCH, items: items(40, 'tc'), max_parallel_chunks: 2 });
    const id = created.body.id;
    const chunk = await runningChunk(stack, id);
    await chunk.terminate('an operator pressed Terminate');
    const started = Date.now();
    const cancel = await stack.post(`/v1/batches/${id}/cancel`, {});
    assert.equal(cancel.status, 202, cancel.text);
    const done = await stack.waitForBatch(id, 60_000);
    stack.emulator.setFaults({});
    assert.ok(ENDED.includes(done.status));
    assert.equal(done.status, 'cancelled');
    assert.ok(Date.now() - started < 60_000, 'cancelled within a minute');
    await assertAddsUp(stack, done, 40);
  });

  test('a provider this worker has no client for: the batch ends failed, saying so', async () => {
    stack.emulator.reset();
    // With a worker registered, the API refuses such a batch at submit (worker-providers.test.ts);
    // one submitted while no worker is registered is accepted, and then met by a worker that
    // knows every provider but Anthropic.
    await stack.stopWorkers();
    try {
      const created = await stack.post('/v1/batches', { ...BATCH, model: 'claude-haiku-4-5', items: items(10, 'noprov') });
      assert.equal(created.status, 202, created.text);
      await stack.startWorker({ ANTHROPIC_BASE_URL: '', ANTHROPIC_API_KEY: '' });
      const done = await stack.waitForBatch(created.body.id, 60_000);
      assert.equal(done.status, 'failed');
      await assertAddsUp(stack, done, 10);
      const failed = (await stack.get(`/v1/batches/${done.id}/results?status=failed&limit=1`)).body.data[0];
      assert.match(failed.error.message, /anthropic/);
    } finally {
      await stack.stopWorkers();
      await stack.startWorker();
    }
  });
});
