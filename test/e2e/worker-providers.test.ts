import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { before, describe, test } from 'node:test';
import { WorkerOffers } from '../../api/intake/worker-offers.js';
import { type TestStack, useStack } from '../helpers/stack.js';

const items = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, content: `Review ${i}: fine.` }));

// No price is known for a self-hosted model; giving one keeps the provider the only problem.
const COMPATIBLE = { model: 'openai_compatible/llama-3.1-8b', prices: { input_per_mtok: 0, output_per_mtok: 0 } };
const REFUSED = 'provider "openai_compatible" is not configured on any worker; configured: openai, anthropic, gemini';

async function stored(stack: TestStack): Promise<{ batches: number; items: number; workflows: number }> {
  const { rows } = await stack.db.query(
    'SELECT (SELECT count(*) FROM batches)::int AS batches, (SELECT count(*) FROM items)::int AS items',
  );
  const { count } = await stack.client.workflow.count();
  return { batches: rows[0].batches, items: rows[0].items, workflows: count };
}

async function registeredProviders(stack: TestStack): Promise<string[]> {
  const { rows } = await stack.db.query('SELECT provider FROM worker_providers WHERE task_queue = $1 ORDER BY provider', [stack.taskQueue]);
  return rows.map((r) => r.provider);
}

/** A registration written straight into the table, as a worker elsewhere would, seen `ageMs` ago. */
async function ghostWorker(stack: TestStack, provider: string, ageMs: number): Promise<void> {
  await stack.db.query(
    `INSERT INTO worker_providers (namespace, task_queue, worker_id, provider, batch, realtime, models, last_seen_at)
     VALUES ($1, $2, 'ghost@elsewhere', $3, false, true, NULL, now() - make_interval(secs => $4::float8 / 1000))
     ON CONFLICT (namespace, task_queue, worker_id, provider) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at`,
    [stack.temporal.namespace, stack.taskQueue, provider, ageMs],
  );
}

/**
 * Workers register what they serve; the API refuses at submit (400, nothing stored, no workflow)
 * a batch for a provider no live worker has, instead of accepting it and failing its chunks.
 */
describe('a provider no worker is configured for is refused at submit', () => {
  // No cache, so each request sees the table as the test just wrote it.
  const stack = useStack({ processingMs: 200, api: { DROVER_WORKER_OFFERS_CACHE_MS: '0' } });
  before(async () => {
    // Every provider but the OpenAI-compatible server.
    await stack.startWorker({ OPENAI_COMPATIBLE_BASE_URL: '' });
  });

  test('the worker registers each provider it has a client for', async () => {
    assert.deepEqual(await registeredProviders(stack), ['anthropic', 'gemini', 'openai']);
    const { rows } = await stack.db.query('SELECT DISTINCT batch, realtime, models FROM worker_providers');
    assert.deepEqual(rows, [{ batch: true, realtime: true, models: null }]);
  });

  test('JSON, NDJSON, estimate, validate and completions: 400 naming the configured providers, nothing stored', async () => {
    const json = await stack.post('/v1/batches', { ...COMPATIBLE, items: items(5, 'j') });
    assert.equal(json.status, 400, json.text);
    assert.equal(json.body.error.type, 'invalid_request');
    assert.deepEqual(json.body.error.issues, [{ path: 'model', message: REFUSED }]);

    const query = new URLSearchParams({ model: COMPATIBLE.model, prices: JSON.stringify(COMPATIBLE.prices) });
    const ndjson = await stack.request(
      'POST',
      `/v1/batches?${query}`,
      items(5, 'n')
        .map((i) => JSON.stringify(i))
        .join('\n'),
      { 'content-type': 'application/x-ndjson' },
    );
    assert.equal(ndjson.status, 400, ndjson.text);
    assert.deepEqual(ndjson.body.error.issues, [{ path: 'model', message: REFUSED }]);

    const estimate = await stack.post('/v1/batches/estimate', { ...COMPATIBLE, items: items(5, 'e') });
    assert.equal(estimate.status, 400, estimate.text);
    assert.deepEqual(estimate.body.error.issues, [{ path: 'model', message: REFUSED }]);

    const validate = await stack.post('/v1/batches/validate', { ...COMPATIBLE, items: items(5, 'v') });
    assert.equal(validate.status, 200, validate.text);
    assert.equal(validate.body.valid, false);
    assert.deepEqual(validate.body.issues, [{ path: 'model', message: REFUSED }]);

    const completion = await stack.post('/v1/completions/summarize', { ...COMPATIBLE, items: [{ content: 'A long text.' }] });
    assert.equal(completion.status, 400, completion.text);
    assert.deepEqual(completion.body.error.issues, [{ path: 'model', message: REFUSED }]);

    assert.deepEqual(await stored(stack), { batches: 0, items: 0, workflows: 0 });
  });

  test('a configured provider still gets 202 and runs', async () => {
    const created = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'realtime', items: items(3, 'ok') });
    assert.equal(created.status, 202, created.text);
    const done = await stack.waitForBatch(created.body.id, 60_000);
    assert.equal(done.status, 'completed');
    assert.equal(done.counts.succeeded, 3);
  });

  test('a stale registration no longer counts; the same row refreshed does', async () => {
    const before = await stored(stack);
    await ghostWorker(stack, 'openai_compatible', 10 * 60_000);
    const stale = await stack.post('/v1/batches', { ...COMPATIBLE, items: items(2, 's') });
    assert.equal(stale.status, 400, stale.text);
    assert.deepEqual(stale.body.error.issues, [{ path: 'model', message: REFUSED }]);
    assert.deepEqual(await stored(stack), before, 'nothing stored or started');

    await ghostWorker(stack, 'openai_compatible', 1000);
    const fresh = await stack.post('/v1/batches/estimate', { ...COMPATIBLE, items: items(2, 'f') });
    assert.equal(fresh.status, 200, fresh.text);
    assert.equal(fresh.body.provider, 'openai_compatible');
    await stack.db.query(`DELETE FROM worker_providers WHERE worker_id = 'ghost@elsewhere'`);
  });

  test('the CLI prints the refusal as one issue and exits 3 (invalid input)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-registry-'));
    try {
      const input = join(dir, 'reviews.jsonl');
      await writeFile(
        input,
        items(3, 'c')
          .map((i) => JSON.stringify(i) + '\n')
          .join(''),
      );
      await writeFile(join(dir, 'spec.json'), JSON.stringify({ prices: COMPATIBLE.prices }));
      const run = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'cli/main.ts', 'submit', input, '-m', COMPATIBLE.model, '--spec', join(dir, 'spec.json')],
        {
          cwd: fileURLToPath(new URL('../..', import.meta.url)),
          env: { PATH: process.env.PATH, DROVER_URL: stack.api.url, DROVER_API_KEY: stack.adminKey, NO_COLOR: '1' },
        },
      ).then(
        () => assert.fail('the submit should have failed'),
        (err: { code: number; stdout: string; stderr: string }) => err,
      );
      assert.equal(run.code, 3, run.stderr);
      // After the upload's progress lines: the error and its one issue, no stack.
      assert.ok(run.stderr.endsWith(`\ndrover: error: the request has 1 problem\n  model: ${REFUSED}\n`), run.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the API caches the registrations between reads', async () => {
    const queue = { namespace: stack.temporal.namespace, taskQueue: stack.taskQueue };
    const cached = new WorkerOffers(stack.db, queue, 60_000);
    const uncached = new WorkerOffers(stack.db, queue, 0);
    const providers = async (o: WorkerOffers) => [...new Set((await o.current()).map((x) => x.provider))].sort();
    assert.deepEqual(await providers(cached), ['anthropic', 'gemini', 'openai']);
    await ghostWorker(stack, 'openai_compatible', 0);
    try {
      assert.deepEqual(await providers(cached), ['anthropic', 'gemini', 'openai'], 'the cached answer until it expires');
      assert.deepEqual(await providers(uncached), ['anthropic', 'gemini', 'openai', 'openai_compatible']);
    } finally {
      await stack.db.query(`DELETE FROM worker_providers WHERE worker_id = 'ghost@elsewhere'`);
    }
  });

  test('a worker that stops leaves at once; with no worker registered a batch is accepted and waits for one', async () => {
    await stack.stopWorkers();
    assert.deepEqual(await registeredProviders(stack), []);
    const created = await stack.post('/v1/batches', { ...COMPATIBLE, mode: 'realtime', items: items(4, 'w') });
    assert.equal(created.status, 202, created.text);
    // A worker that serves it comes, and the batch it waited for runs.
    await stack.startWorker();
    const done = await stack.waitForBatch(created.body.id, 60_000);
    assert.equal(done.status, 'completed');
    assert.equal(done.counts.succeeded, 4);
  });
});
