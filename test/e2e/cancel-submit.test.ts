import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertBatchAddsUp, assertProviderClean } from '../helpers/invariants.js';
import { useStack } from '../helpers/stack.js';
import { sleep } from '../helpers/wait.js';
import { mulberry32 as seeded } from '../../emulator/random.js';

const RUNS = 20;
const CREATE_DELAY_MS = 2500;
/**
 * Post to the end of the create: starting the workflows, planning, reserving, staging, then the
 * provider holds the create for CREATE_DELAY_MS. The batches are posted 200 ms apart so the
 * worker starts them in about that rhythm.
 */
const SUBMIT_WINDOW_MS = CREATE_DELAY_MS + 2500;
const STAGGER_MS = 200;
const SEED = Number(process.env.DROVER_CANCEL_SEED ?? 20261201);

/**
 * A cancel can land anywhere in a submit: before the job is reserved, while the input is staged,
 * while the create call is in flight, just after it. Twenty batches, each cancelled at a seeded
 * random moment of its submit window: each ends `cancelled` with counts that add up, and every
 * provider batch that was created is cancelled (or collected), none left running and billing.
 */
describe('cancel at random moments of the submit', () => {
  const stack = useStack({ processingMs: 30_000, worker: true });

  test(`${RUNS} batches, each cancelled at a random moment (seed ${SEED}): all cancelled, no provider batch left running`, async () => {
    stack.emulator.setFaults({ create_delay_ms: CREATE_DELAY_MS });
    const random = seeded(SEED);
    const delays = Array.from({ length: RUNS }, () => Math.round(random() * SUBMIT_WINDOW_MS));
    const runs = await Promise.all(
      delays.map(async (delay, n) => {
        await sleep(n * STAGGER_MS);
        const ids = Array.from({ length: 10 }, (_, i) => `c${n}-${i}`);
        const created = await stack.post('/v1/batches', {
          model: 'gpt-4.1-mini',
          mode: 'batch',
          chunk_size: 5,
          items: ids.map((id) => ({ id, content: `Summarize note ${id}.` })),
        });
        assert.equal(created.status, 202, created.text);
        await sleep(delay);
        const { rows } = await stack.db.query('SELECT status FROM provider_jobs WHERE batch_id = $1 ORDER BY chunk_idx', [created.body.id]);
        const atCancel = rows.map((r) => r.status).join('+') || 'no job';
        const cancel = await stack.post(`/v1/batches/${created.body.id}/cancel`, {});
        assert.equal(cancel.status, 202, cancel.text);
        return { id: created.body.id as string, ids, delay, atCancel };
      }),
    );

    const ended = [];
    for (const run of runs) {
      const done = await stack.waitForBatch(run.id, 90_000);
      assert.equal(done.status, 'cancelled', `cancelled ${run.delay} ms after submit: ${JSON.stringify(done.counts)}`);
      await assertBatchAddsUp(stack, done, run.ids);
      ended.push(done);
    }
    const provider = await assertProviderClean(
      stack,
      runs.map((r) => r.id),
    );
    const { rows } = await stack.db.query(
      `SELECT status, count(*)::int AS n FROM provider_jobs WHERE batch_id = ANY($1) GROUP BY status ORDER BY status`,
      [runs.map((r) => r.id)],
    );
    const moments = new Map<string, number>();
    for (const r of runs) moments.set(r.atCancel, (moments.get(r.atCancel) ?? 0) + 1);
    console.log('cancel-submit: jobs when the cancel was sent', Object.fromEntries(moments), 'provider', provider, 'jobs after', rows);
    // Every created provider batch was stopped: none of them ran on to completion.
    assert.equal(provider.cancelled, provider.created, JSON.stringify(provider));
    stack.emulator.setFaults({});
  });
});
