import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { realtimeTaskQueue } from '../../workflows/task-queues.js';
import { assertBatchAddsUp, assertProviderClean } from '../helpers/invariants.js';
import { type TestStack, useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const items = (list: string[]) => list.map((id) => ({ id, content: `Classify ticket ${id}: the parcel arrived late.` }));

async function post(stack: TestStack, body: object): Promise<string> {
  const created = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', ...body });
  assert.equal(created.status, 202, created.text);
  return created.body.id as string;
}

/** The identities polling a task queue for activities, as the server sees them. */
async function activityPollers(stack: TestStack, taskQueue: string): Promise<string[]> {
  const res = await stack.client.workflowService.describeTaskQueue({
    namespace: stack.temporal.namespace,
    taskQueue: { name: taskQueue, kind: 1 }, // TASK_QUEUE_KIND_NORMAL
    taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
  });
  return (res.pollers ?? []).map((p) => p.identity ?? '').sort();
}

/** The task queues a chunk workflow scheduled its realtime attempts on, read from its history. */
async function realtimeQueuesOf(stack: TestStack, batchId: string, chunk: number): Promise<string[]> {
  const history = await stack.client.workflow.getHandle(`${batchId}/chunk-${chunk}`).fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === 'runRealtimeChunk')
    .map((a) => a?.taskQueue?.name ?? '');
}

const resultsWritten = (stack: TestStack, id: string) =>
  stack.db
    .query(`SELECT count(*)::int AS n FROM results WHERE batch_id = $1 AND status <> 'pending'`, [id])
    .then((r) => r.rows[0].n as number);

/**
 * Drover scales out on Temporal: any number of worker processes share one task queue (and one
 * PostgreSQL), so the loss of one is only a retry on another, and realtime attempts run on a
 * queue of their own so they cannot hold the slots the other activities need.
 */
describe('several workers on one Temporal cluster', () => {
  const stack = useStack({ processingMs: 1500 });

  test('two workers on one batch, one SIGKILLed mid-batch: the other finishes it, every id once', async () => {
    // Realtime calls at 120 RPM (two a second): the realtime batch is still running at the kill.
    const limits = { DROVER_RATE_LIMITS: JSON.stringify({ 'openai/gpt-4.1-mini': { rpm: 120 } }) };
    // Provider batches run 6 s: they are still running (or being collected) at the kill.
    stack.emulator.setFaults({ processing_ms: 6000 });
    const started = Date.now();
    const a = await stack.startWorker(limits);
    const batchIds = ids(40, 'b');
    const realtimeIds = ids(24, 'r');
    const batch = await post(stack, { mode: 'batch', chunk_size: 10, max_parallel_chunks: 4, items: items(batchIds) });
    const realtime = await post(stack, { mode: 'realtime', chunk_size: 6, max_parallel_chunks: 4, items: items(realtimeIds) });

    // Worker A alone started everything: the provider batches run and the realtime answers come in.
    await until(
      () => stack.db.query(`SELECT count(*)::int AS n FROM provider_jobs WHERE batch_id = $1 AND status = 'submitted'`, [batch]),
      (r) => r.rows[0].n >= 2,
      { what: 'provider batches running', intervalMs: 20 },
    );
    await until(
      () => resultsWritten(stack, realtime),
      (n) => n > 0,
      { what: 'realtime answers written', intervalMs: 20 },
    );

    // Worker B joins: both poll both queues.
    const b = await stack.startWorker(limits);
    for (const queue of [stack.taskQueue, realtimeTaskQueue(stack.taskQueue)]) {
      await until(
        () => activityPollers(stack, queue),
        (p) => p.length >= 2,
        { what: `two workers polling ${queue}`, intervalMs: 200 },
      );
    }
    await a.kill('SIGKILL');
    const atKill = { batch: await resultsWritten(stack, batch), realtime: await resultsWritten(stack, realtime) };
    assert.ok(atKill.batch < batchIds.length, `the batch-mode batch was mid-way at the kill: ${JSON.stringify(atKill)}`);
    assert.ok(atKill.realtime < realtimeIds.length, `the realtime batch was mid-way at the kill: ${JSON.stringify(atKill)}`);

    const doneBatch = await stack.waitForBatch(batch, 90_000);
    const doneRealtime = await stack.waitForBatch(realtime, 90_000);
    for (const [done, list] of [
      [doneBatch, batchIds],
      [doneRealtime, realtimeIds],
    ] as const) {
      assert.equal(done.status, 'completed', JSON.stringify(done.counts));
      assert.equal(done.counts.succeeded, list.length);
      await assertBatchAddsUp(stack, done, [...list]);
    }
    const provider = await assertProviderClean(stack, [batch]);
    assert.equal(provider.created, 4, 'one provider batch per chunk, none created twice');
    assert.equal(stack.emulator.stats().batches_created, 4);
    assert.ok(b.child.exitCode === null, 'worker B is still running');
    stack.emulator.setFaults({});
    console.log(
      `scale-out: killed A with ${JSON.stringify(atKill)} results written; B finished both batches ${Math.round((Date.now() - started) / 1000)} s after the start`,
    );
  });

  test('realtime attempts run on their own queue: a worker with 2 activity slots keeps serving batches under 4 long realtime chunks', async () => {
    await stack.stopWorkers();
    // 20 RPM shared: 4 realtime chunks of 10 items need two minutes, holding 4 realtime slots all along.
    await stack.startWorker({
      DROVER_RATE_LIMITS: JSON.stringify({ 'openai/gpt-4.1-mini': { rpm: 20 } }),
      DROVER_MAX_CONCURRENT_ACTIVITIES: '2',
      DROVER_MAX_CONCURRENT_REALTIME_CHUNKS: '4',
    });
    const slow = await post(stack, { mode: 'realtime', chunk_size: 10, max_parallel_chunks: 4, items: items(ids(40, 's')) });
    await until(
      () => Promise.all([0, 1, 2, 3].map((c) => realtimeQueuesOf(stack, slow, c).catch(() => []))),
      (qs) => qs.every((q) => q.length > 0),
      { what: 'four realtime attempts scheduled', intervalMs: 200 },
    );

    const t0 = Date.now();
    const fastIds = ids(20, 'f');
    const fast = await post(stack, { mode: 'batch', chunk_size: 10, items: items(fastIds) });
    const done = await stack.waitForBatch(fast, 30_000);
    const took = Date.now() - t0;
    assert.equal(done.status, 'completed');
    // On one shared queue the realtime chunks would hold both slots for a minute.
    assert.ok(took < 10_000, `the batch-mode batch took ${took} ms beside the realtime chunks`);
    await assertBatchAddsUp(stack, done, fastIds);

    const still = await stack.get(`/v1/batches/${slow}`);
    assert.equal(still.body.status, 'running', 'the realtime chunks were still running while the batch-mode batch went through');
    for (const c of [0, 1, 2, 3]) assert.deepEqual(await realtimeQueuesOf(stack, slow, c), [realtimeTaskQueue(stack.taskQueue)]);
    console.log(`scale-out: a 2-chunk batch-mode batch completed in ${took} ms beside 4 running realtime chunks (2 main-queue slots)`);

    assert.equal((await stack.post(`/v1/batches/${slow}/cancel`, {})).status, 202);
    const cancelled = await stack.waitForBatch(slow, 30_000);
    assert.equal(cancelled.status, 'cancelled');
  });
});
