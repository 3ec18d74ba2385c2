import assert from 'node:assert/strict';
import type { Emulator } from '../../emulator/index.js';
import type { Queryable } from '../../store/db.js';
import { until } from './wait.js';

/** What these checks need of a stack: its store and its provider emulator. */
export interface CheckedStack {
  db: Queryable;
  emulator: Emulator;
  get(path: string): Promise<{ status: number; body: any; text: string }>;
}

/**
 * The core promise for one ended batch: the counts add up with nothing pending, each item has
 * exactly one closed result and comes back once in the export, and the spend is the sum of the
 * result costs.
 */
export async function assertBatchAddsUp(stack: CheckedStack, batch: any, itemIds: string[]): Promise<void> {
  const c = batch.counts;
  const n = itemIds.length;
  assert.equal(c.succeeded + c.failed + c.cancelled, n, `${batch.id}: counts add up: ${JSON.stringify(c)}`);
  assert.equal(c.pending, 0, `${batch.id}: nothing left pending`);
  const { rows } = await stack.db.query(
    `SELECT count(*)::int AS n, count(DISTINCT seq)::int AS distinct_seqs, COALESCE(sum(cost_usd + prior_cost_usd), 0)::float8 AS cost,
            count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded, count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled
     FROM results WHERE batch_id = $1 AND status <> 'pending'`,
    [batch.id],
  );
  const r = rows[0];
  assert.equal(r.n, n, `${batch.id}: one closed result row per item`);
  assert.equal(r.distinct_seqs, n, `${batch.id}: every item once`);
  assert.deepEqual(
    { succeeded: r.succeeded, failed: r.failed, cancelled: r.cancelled },
    { succeeded: c.succeeded, failed: c.failed, cancelled: c.cancelled },
    `${batch.id}: the counts are the results'`,
  );
  // The API shows dollars to six places; the store keeps the exact sum.
  assert.ok(
    Math.abs(r.cost - batch.cost.spent_usd) <= 1e-6,
    `${batch.id}: spend ${batch.cost.spent_usd} is the sum of result costs ${r.cost}`,
  );
  const stored = (await stack.db.query('SELECT cost_usd::float8 AS cost FROM batches WHERE id = $1', [batch.id])).rows[0].cost;
  assert.ok(Math.abs(stored - r.cost) < 1e-12, `${batch.id}: the stored spend ${stored} is the sum of result costs ${r.cost}`);
  const jsonl = await stack.get(`/v1/batches/${batch.id}/results?format=jsonl`);
  const exported = jsonl.text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l).id as string);
  assert.deepEqual([...exported].sort(), [...itemIds].sort(), `${batch.id}: the export has every item id exactly once`);
}

export interface ProviderBatch {
  id: string;
  status: string;
  key: string | undefined;
  completed: number;
}

/** Every OpenAI batch the emulator holds, through the provider's own list endpoint. */
export async function providerBatches(emulator: Emulator): Promise<ProviderBatch[]> {
  const all: ProviderBatch[] = [];
  for (let after: string | null = null; ;) {
    const url = `${emulator.openaiBaseURL}/batches?limit=100${after ? `&after=${after}` : ''}`;
    const page = (await (await fetch(url, { headers: { authorization: 'Bearer sk-test-checker' } })).json()) as any;
    for (const b of page.data) {
      all.push({ id: b.id, status: b.status, key: b.metadata?.drover_key, completed: b.request_counts?.completed ?? 0 });
    }
    if (!page.has_more) return all;
    after = page.last_id;
  }
}

const RUNNING = ['validating', 'in_progress', 'finalizing', 'cancelling'];

/**
 * Money at the provider for these batches: no provider batch was created twice for one job key,
 * none is left running, every one is recorded in the store, and every one that answered anything
 * was collected (its answers are in the results, so the spend counts them).
 */
export async function assertProviderClean(stack: CheckedStack, batchIds: string[]): Promise<{ created: number; cancelled: number }> {
  const mine = (key: string | undefined) => key !== undefined && batchIds.some((id) => key.startsWith(`${id}:`));
  const byKey = stack.emulator.stats().batches_by_key;
  for (const [key, n] of Object.entries(byKey)) if (mine(key)) assert.equal(n, 1, `provider batch ${key} was created ${n} times`);
  // A cancel takes a moment at the provider (`cancelling`); anything still running after that is untracked billing.
  const batches = await until(
    async () => (await providerBatches(stack.emulator)).filter((b) => mine(b.key)),
    (bs) => bs.every((b) => !RUNNING.includes(b.status)),
    { what: 'every provider batch ended', timeoutMs: 10_000 },
  ).catch(async (err: Error) => {
    throw new Error(
      `${err.message}: ${JSON.stringify((await providerBatches(stack.emulator)).filter((b) => mine(b.key) && RUNNING.includes(b.status)))}`,
    );
  });
  const { rows } = await stack.db.query(
    `SELECT job_key, provider_batch_id, status FROM provider_jobs WHERE batch_id = ANY($1) AND provider_batch_id IS NOT NULL`,
    [batchIds],
  );
  const jobs = new Map(rows.map((r: any) => [r.provider_batch_id as string, r as { job_key: string; status: string }]));
  for (const b of batches) {
    const job = jobs.get(b.id);
    assert.ok(job, `provider batch ${b.id} (${b.key}, ${b.status}) is recorded in the store`);
    assert.equal(job.job_key, b.key);
    if (b.completed > 0)
      assert.match(job.status, /^collected:/, `provider batch ${b.id} answered ${b.completed} requests and was collected`);
  }
  return { created: batches.length, cancelled: batches.filter((b) => b.status === 'cancelled').length };
}
