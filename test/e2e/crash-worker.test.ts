import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertBatchAddsUp, assertProviderClean, providerBatches } from '../helpers/invariants.js';
import { type TestStack, useStack } from '../helpers/stack.js';
import { sleep, until } from '../helpers/wait.js';

const ITEMS = 20;

interface KillPoint {
  name: string;
  /** Resolves when the batch is where the kill should land; `cancel` posts a cancel first, if the point needs one. */
  reach(stack: TestStack, batchId: string): Promise<void>;
  cancel?: boolean;
}

const jobs = (stack: TestStack, batchId: string) =>
  stack.db
    .query('SELECT status, provider_batch_id FROM provider_jobs WHERE batch_id = $1', [batchId])
    .then((r) => r.rows as Array<{ status: string; provider_batch_id: string | null }>);

const createdAtProvider = (stack: TestStack, batchId: string) =>
  Object.keys(stack.emulator.stats().batches_by_key).some((k) => k.startsWith(`${batchId}:`));

const fast = { intervalMs: 5, timeoutMs: 60_000 };

/**
 * Where in a batch's life the worker dies. Each batch has two chunks of 10 items; the emulator
 * holds every create for 1.5 s and processes each provider batch for 2.5 s, which widens the
 * windows. A kill hits every batch then in flight, not only the one it waits for.
 */
const KILL_POINTS: KillPoint[] = [
  {
    name: 'staging: the job is reserved, its input not yet created',
    reach: (stack, id) =>
      until(
        () => jobs(stack, id),
        (js) => js.length > 0,
        fast,
      ).then(() => undefined),
  },
  {
    name: 'creating: the create call is in flight at the provider',
    reach: (stack, id) =>
      until(
        () => jobs(stack, id),
        (js) => js.some((j) => j.status === 'creating'),
        fast,
      ).then(() => undefined),
  },
  {
    name: 'right after the provider created the batch, before or just after it was recorded',
    reach: (stack, id) => until(() => createdAtProvider(stack, id), Boolean, { ...fast, intervalMs: 1 }).then(() => undefined),
  },
  {
    name: 'polling: the provider batches are running',
    reach: async (stack, id) => {
      await until(
        () => jobs(stack, id),
        (js) => js.length === 2 && js.every((j) => j.status === 'submitted'),
        fast,
      );
      await sleep(700);
    },
  },
  {
    name: 'collecting: the first results are being written',
    reach: (stack, id) =>
      until(
        () => stack.db.query("SELECT count(*)::int AS n FROM results WHERE batch_id = $1 AND status <> 'pending'", [id]),
        (r) => r.rows[0].n > 0,
        fast,
      ).then(() => undefined),
  },
  {
    name: 'cancelling: the provider has the cancel, the partial results are not yet collected',
    cancel: true,
    reach: (stack, id) =>
      until(
        () => providerBatches(stack.emulator),
        (bs) => bs.some((b) => b.key?.startsWith(`${id}:`) && ['cancelling', 'cancelled'].includes(b.status)),
        fast,
      ).then(() => undefined),
  },
];

/**
 * SIGKILL of the worker process at six points of a batch's life, each followed by a new worker:
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
      if (point.cancel) {
        await until(
          () => jobs(stack, id),
          (js) => js.length === 2 && js.every((j) => j.status === 'submitted'),
          fast,
        );
        assert.equal((await stack.post(`/v1/batches/${id}/cancel`, {})).status, 202);
      }
      await point.reach(stack, id);
      await worker.kill('SIGKILL');
      const atKill = (await jobs(stack, id)).map((j) => `${j.status}${j.provider_batch_id ? '+id' : ''}`).join(',');
      batches.push({ id, point, ids, killedAt: atKill });
      console.log(`crash-worker: killed at "${point.name}", jobs then: ${atKill || 'none'}`);
      worker = await stack.startWorker();
    }

    for (const b of batches) {
      const done = await stack.waitForBatch(b.id, 150_000);
      const context = `${b.point.name}: ${JSON.stringify({ status: done.status, counts: done.counts, jobsAtKill: b.killedAt })}`;
      assert.equal(done.status, b.point.cancel ? 'cancelled' : 'completed', context);
      if (!b.point.cancel) assert.equal(done.counts.succeeded, ITEMS, context);
      await assertBatchAddsUp(stack, done, b.ids);
    }
    const provider = await assertProviderClean(
      stack,
      batches.map((b) => b.id),
    );
    // Two chunks per batch, one attempt each: one provider batch per chunk, whatever the kills.
    assert.equal(provider.created, 2 * KILL_POINTS.length, JSON.stringify(provider));
    console.log(`crash-worker: ${KILL_POINTS.length} kills, every batch ended in ${Math.round((Date.now() - started) / 1000)} s`, provider);
    stack.emulator.setFaults({});
  });
});
