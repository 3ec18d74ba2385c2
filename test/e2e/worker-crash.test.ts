import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

describe('a worker killed mid-batch', () => {
  const stack = useStack({ processingMs: 1500 });

  test('loses nothing and pays for nothing twice', async () => {
    stack.emulator.setFaults({ line_errors: { every: 7, status: 500, once: true } });
    let worker = await stack.startWorker();
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      items: Array.from({ length: 1200 }, (_, i) => ({ id: `k${i}`, content: `text ${i}` })),
      chunk_size: 200,
      max_parallel_chunks: 3,
      // Under `auto` the small second attempts would go realtime; this test counts provider batches.
      mode: 'batch',
      max_attempts: 3,
    });
    assert.equal(created.status, 202, created.text);
    const id = created.body.id;

    // First kill: while chunks are being submitted.
    await until(() => stack.emulator.stats().files_uploaded >= 1, Boolean, { intervalMs: 10 });
    await worker.kill('SIGKILL');
    const uploadsAtFirstKill = stack.emulator.stats().files_uploaded;
    worker = await stack.startWorker();

    // Second kill: once results are being written, i.e. during collect.
    await until(
      async () => (await stack.db.query('SELECT count(*)::int AS n FROM results WHERE batch_id = $1', [id])).rows[0].n > 0,
      Boolean,
      { intervalMs: 10 },
    );
    await worker.kill('SIGKILL');
    worker = await stack.startWorker();

    const done = await stack.waitForBatch(id, 240_000);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.counts, { total: 1200, succeeded: 1200, failed: 0, cancelled: 0, pending: 0 });

    // Exactly one provider batch per (chunk, attempt): the emulator counts creates per key.
    const stats = stack.emulator.stats();
    const perKey = Object.entries(stats.batches_by_metadata).filter(([k]) => k.startsWith(id));
    assert.ok(perKey.length >= 12, `6 chunks × 2 attempts at least, got ${perKey.length}`);
    for (const [key, n] of perKey) assert.equal(n, 1, `provider batch ${key} was created ${n} times`);
    const jobs = await stack.db.query('SELECT count(*)::int AS n FROM provider_jobs WHERE batch_id = $1', [id]);
    assert.equal(jobs.rows[0].n, perKey.length, 'every provider batch is recorded in the store');

    // Exactly one result per item.
    const results = await stack.db.query('SELECT count(*)::int AS n, count(DISTINCT seq)::int AS d FROM results WHERE batch_id = $1', [id]);
    assert.deepEqual(results.rows[0], { n: 1200, d: 1200 });
    const jsonl = await stack.get(`/v1/batches/${id}/results?format=jsonl`);
    const ids = jsonl.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).id);
    assert.equal(new Set(ids).size, 1200);
    assert.ok(uploadsAtFirstKill >= 1);
    assert.ok(!worker.output().includes('sk-test-secret'), 'the worker never logs its API key');
    stack.emulator.setFaults({});
  });
});
