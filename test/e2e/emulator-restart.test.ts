/**
 * The provider emulator restarted mid-batch, as when `npm run dev` is restarted: with its state
 * kept, Drover's provider batches are still there and the batch finishes without sending any item
 * twice; without it they vanish and Drover sends their items again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type TestStack, useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const ITEMS = 30;
const BATCH = { model: 'gpt-4.1-mini', mode: 'batch', chunk_size: 10, max_attempts: 3 };
/** Long enough that every provider batch is mid-way when the emulator goes down. */
const PROCESSING_MS = 4000;
/** Polls and collects fail while it is down, and Temporal retries them. */
const DOWN_MS = 1500;

const items = (prefix: string) =>
  Array.from({ length: ITEMS }, (_, i) => ({ id: `${prefix}${i}`, content: `Summarise ticket ${i}: the parcel arrived late.` }));

/** Submits a batch and resolves once all three of its provider batches exist and it is still running. */
async function submitAndWaitForProviderBatches(stack: TestStack, prefix: string): Promise<string> {
  stack.emulator.setFaults({ processing_ms: PROCESSING_MS });
  const created = await stack.post('/v1/batches', { ...BATCH, items: items(prefix) });
  assert.equal(created.status, 202, created.text);
  const id = created.body.id as string;
  await until(
    () => stack.db.query('SELECT count(*)::int AS n FROM provider_jobs WHERE batch_id = $1 AND provider_batch_id IS NOT NULL', [id]),
    (r) => r.rows[0].n === 3,
    { what: 'three provider batches submitted' },
  );
  const before = (await stack.get(`/v1/batches/${id}`)).body;
  assert.equal(before.status, 'running');
  assert.equal(before.counts.succeeded, 0, 'nothing collected before the restart');
  assert.deepEqual(await providerStatuses(stack), ['in_progress', 'in_progress', 'in_progress'], 'the provider batches are mid-way');
  return id;
}

/** What the emulator says of its batches, oldest first. */
async function providerStatuses(stack: TestStack): Promise<string[]> {
  const res = await fetch(`${stack.emulator.openaiBaseURL}/batches?limit=100`, { headers: { authorization: 'Bearer sk-test' } });
  const body = (await res.json()) as { data: Array<{ status: string }> };
  return body.data.map((b) => b.status).reverse();
}

/** Result rows per attempt, and provider batches per attempt. */
async function attempts(stack: TestStack, id: string) {
  const results = await stack.db.query(
    `SELECT attempt, status, count(*)::int AS n, count(DISTINCT seq)::int AS distinct_seqs FROM results WHERE batch_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
    [id],
  );
  const jobs = await stack.db.query(`SELECT attempt, status FROM provider_jobs WHERE batch_id = $1 ORDER BY chunk_idx, attempt`, [id]);
  return { results: results.rows, jobs: jobs.rows };
}

describe('the provider emulator restarted mid-batch', () => {
  const stack = useStack({ processingMs: 300, worker: true, emulatorState: true });

  test('with its state kept: the batch completes, every item once, nothing sent twice', async () => {
    stack.emulator.reset();
    const id = await submitAndWaitForProviderBatches(stack, 'kept');
    const restarted = await stack.restartEmulator({ downMs: DOWN_MS });
    assert.equal(restarted.restored.batches, 3, 'the three provider batches are still there');

    const done = await stack.waitForBatch(id, 90_000);
    assert.equal(done.status, 'completed', JSON.stringify(done.counts));
    assert.deepEqual(done.counts, { total: ITEMS, succeeded: ITEMS, failed: 0, cancelled: 0, pending: 0 });
    const { results, jobs } = await attempts(stack, id);
    assert.deepEqual(results, [{ attempt: 1, status: 'succeeded', n: ITEMS, distinct_seqs: ITEMS }], 'every result on attempt 1');
    assert.deepEqual(
      jobs,
      Array.from({ length: 3 }, () => ({ attempt: 1, status: 'collected:completed' })),
    );
    assert.equal(stack.emulator.stats().batches_created, 0, 'no provider batch was created again after the restart');
    assert.equal(stack.emulator.stats().lines_received, 0, 'no item was sent again');
  });

  test('without it (the contrast): the provider batches vanish and their items are sent again', async () => {
    stack.emulator.reset();
    const id = await submitAndWaitForProviderBatches(stack, 'forgot');
    const restarted = await stack.restartEmulator({ downMs: DOWN_MS, forget: true });
    assert.equal(restarted.restored.batches, 0);

    const done = await stack.waitForBatch(id, 90_000);
    assert.equal(done.status, 'completed', JSON.stringify(done.counts));
    assert.equal(done.counts.succeeded, ITEMS);
    const { results, jobs } = await attempts(stack, id);
    assert.deepEqual(results, [{ attempt: 2, status: 'succeeded', n: ITEMS, distinct_seqs: ITEMS }], 'every item resent once');
    assert.deepEqual(
      jobs.filter((j) => j.attempt === 1).map((j) => j.status),
      ['collected:vanished', 'collected:vanished', 'collected:vanished'],
    );
    assert.equal(stack.emulator.stats().lines_received, ITEMS, 'all items were sent again');
  });
});
