import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertBatchAddsUp, assertProviderClean, providerBatches } from '../helpers/invariants.js';
import { type TestStack, useStack } from '../helpers/stack.js';
import { sleep, until } from '../helpers/wait.js';

const ITEMS = 20;

interface KillPoint {
  name: string;
  /** Resolves when the batch is where the kill should land (posting a cancel on the way, for the points that cancel). */
  reach(stack: TestStack, batchId: string): Promise<void>;
  expect: 'completed' | 'cancelled';
}

const jobs = (stack: TestStack, batchId: string) =>
  stack.db
    .query('SELECT status, provider_batch_id FROM provider_jobs WHERE batch_id = $1', [batchId])
    .then((r) => r.rows as Array<{ status: string; provider_batch_id: string | null }>);

const createdAtProvider = (stack: TestStack, batchId: string) =>
  Object.keys(stack.emulator.stats().batches_by_key).some((k) => k.startsWith(`${batchId}:`));

const fast = { intervalMs: 5, timeoutMs: 60_000 };

const bothSubmitted = (stack: TestStack, id: string) =>
  until(
    () => jobs(stack, id),
    (js) => js.length === 2 && js.every((j) => j.status === 'submitted'),
    fast,
  );

async function cancel(stack: TestStack, id: string) {
  const res = await stack.post(`/v1/batches/${id}/cancel`, {});
  assert.equal(res.status, 202, res.text);
}

/**
 * Where in a batch's life the worker dies. Each batch has two chunks of 10 items; the emulator
 * holds every create for 1.5 s and processes each provider batch for 2.5 s, which widens the
 * windows. A kill hits every batch then in flight, not only the one it waits for.
 */
const KILL_POINTS: KillPoint[] = [
  {
    name: 'staging: the job is reserved, its input not yet created',
    expect: 'completed',
    reach: (stack, id) =>
      until(
        () => jobs(stack, id),
        (js) => js.length > 0,
        fast,
      ).then(() => undefined),
  },
  {
    name: 'creating: the create call is in flight at the provider',
    expect: 'completed',
    reach: (stack, id) =>
      until(
        () => jobs(stack, id),
        (js) => js.some((j) => j.status === 'creating'),
        fast,
      ).then(() => undefined),
  },
  {
    name: 'right after the provider created the batch, before or just after it was recorded',
    expect: 'completed',
    reach: (stack, id) => until(() => createdAtProvider(stack, id), Boolean, { ...fast, intervalMs: 1 }).then(() => undefined),
  },
  {
    name: 'polling: the provider batches are running',
    expect: 'completed',
    reach: async (stack, id) => {
      await bothSubmitted(stack, id);
      await sleep(700);
    },
  },
  {
    name: 'collecting: the first results are being written',
    expect: 'completed',
    reach: (stack, id) =>
      until(
        () => stack.db.query("SELECT count(*)::int AS n FROM results WHERE batch_id = $1 AND status <> 'pending'", [id]),
        (r) => r.rows[0].n > 0,
        fast,
      ).then(() => undefined),
  },
  {
    name: 'cancelling: the provider has the cancel, the partial results are not yet collected',
    expect: 'cancelled',
    reach: async (stack, id) => {
      await bothSubmitted(stack, id);
      await cancel(stack, id);
      await until(
        () => providerBatches(stack.emulator),
        (bs) => bs.some((b) => b.key?.startsWith(`${id}:`) && ['cancelling', 'cancelled'].includes(b.status)),
        fast,
      );
    },
  },
  {
    name: 'cancelled while the create call is in flight: the submit waits on the create when the worker dies',
    expect: 'cancelled',
    reach: async (stack, id) => {
      await until(
        () => jobs(stack, id),
        (js) => js.some((j) => j.status === 'creating'),
        fast,
      );
      await cancel(stack, id);
      await sleep(300);
    },
  },
];

/**
 * SIGKILL of the worker process at seven points of a batch's life, each followed by a new worker:
 * every batch ends in the right state with counts that add up, every item once, spend equal to
 * the sum of the result costs, and no provider batch created twice or left running.
 */
describe('a worker SIGKILLed at any point of a batch', () => {
  const stack = useStack({ processingMs: 2500 });

  test('every batch completes, nothing created twice, nothing left running at the provider', async () => {
    stack.emulator.setFaults({ create_delay_ms: 1500 });
    let worker = await stack.startWorker();
    const started = Date.now();
    const batches: Array<{ id: string; point: KillPoint; ids: string[]; killedAt: string }> = [];

    for (const [n, point] of KILL_POINTS.entries()) {
      const ids = Array.from({ length: ITEMS }, (_, i) => `k${n}-${i}`);
      const created = await stack.post('/v1/batches', {
        model: 'gpt-4.1-mini',
        mode: 'batch',
        chunk_size: 10,
        items: ids.map((id) => ({ id, content: `Classify ticket ${id}: the parcel arrived late.` })),
      });
      assert.equal(created.status, 202, created.text);
      const id = created.body.id as string;
      await point.reach(stack, id);
      await worker.kill('SIGKILL');
      const atKill = (await jobs(stack, id)).map((j) => `${j.status}${j.provider_batch_id ? '+id' : ''}`).join(',');
      batches.push({ id, point, ids, killedAt: atKill });
      console.log(`crash-worker: killed at "${point.name}", jobs then: ${atKill || 'none'}`);
      worker = await stack.startWorker();
    }

    const outcomes = [];
    for (const b of batches) {
      const done = await stack.waitForBatch(b.id, 150_000);
      const context = `${b.point.name}: ${JSON.stringify({ status: done.status, counts: done.counts, jobsAtKill: b.killedAt })}`;
      assert.equal(done.status, b.point.expect, context);
      await assertBatchAddsUp(stack, done, b.ids);
      const provider = await assertProviderClean(stack, [b.id]).catch(async (err: Error) => {
        const { rows } = await stack.db.query(
          'SELECT job_key, status, provider_batch_id, cancel_requested FROM provider_jobs WHERE batch_id = $1',
          [b.id],
        );
        throw new Error(`${context}: ${err.message}; jobs ${JSON.stringify(rows)}`);
      });
      if (b.point.expect === 'cancelled') assert.equal(done.counts.failed, 0, `a cancel fails nothing: ${context}`);
      if (b.point.expect === 'completed') {
        assert.equal(done.counts.succeeded, ITEMS, context);
        // Two chunks, one attempt each: one provider batch per chunk, whatever the kills.
        assert.equal(provider.created, 2, context);
      }
      outcomes.push({ killedAt: b.killedAt, status: done.status, counts: done.counts, provider });
    }
    console.log(
      `crash-worker: ${KILL_POINTS.length} kills, every batch ended ${Math.round((Date.now() - started) / 1000)} s after the first post`,
    );
    for (const o of outcomes) console.log('crash-worker:', JSON.stringify(o));
    stack.emulator.setFaults({});
  });
});
