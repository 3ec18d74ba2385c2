import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { storeJsonBatch } from '../../api/intake/json-batch.js';
import { createActivities } from '../../activities/index.js';
import { toBatchRequests } from '../../activities/chunks.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { createOpenAIClient, OpenAIBatchProvider } from '../../providers/openai.js';
import { createScratchDatabase, type ScratchDatabase } from '../../stack/scratch-database.js';
import { getChunk } from '../../store/chunks.js';
import { unfinishedItems } from '../../store/items.js';
import { jobKey, recordInputFile, reserveJob, setJobStatus } from '../../store/provider-jobs.js';

/**
 * The money-spending activities against the real store and the emulator, run under
 * MockActivityEnvironment so a test can stage exactly the crash it wants.
 */
describe('chunk activities', () => {
  let database: ScratchDatabase;
  let emulator: Emulator;
  let provider: OpenAIBatchProvider;
  let acts: ReturnType<typeof createActivities>;
  /** Runs one activity in a fresh mock context (typed: the SDK's `run` returns unknown). */
  const env = () => ({
    run: <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
      new MockActivityEnvironment().run(fn, ...args) as Promise<R>,
  });

  before(async () => {
    [database, emulator] = await Promise.all([createScratchDatabase('drover_test'), startEmulator({ processingMs: 0 })]);
    provider = new OpenAIBatchProvider(createOpenAIClient({ apiKey: 'sk-test', baseURL: emulator.openaiBaseURL }));
    acts = createActivities({ db: database.db, providers: { batch: { openai: provider }, realtime: {} } });
  });
  after(async () => {
    await emulator?.close();
    await database?.drop();
  });

  async function newBatch(n: number): Promise<string> {
    const stored = await storeJsonBatch(
      database.db,
      'default',
      {
        model: 'gpt-4.1-mini',
        items: Array.from({ length: n }, (_, i) => ({ id: `x${i}`, content: `item ${i}` })),
        chunk_size: 10,
        // Small chunks would go realtime under `auto`; these tests are about the batch path.
        mode: 'batch',
      },
      { priceOverrides: {} },
    );
    assert.ok(stored.created);
    await env().run(acts.planBatch, { batchId: stored.batch.id });
    return stored.batch.id;
  }

  test('a submit retried after a crash between create and record finds the provider batch instead of creating another', async () => {
    const batchId = await newBatch(25);
    emulator.reset();
    // Stage the crash: the key was reserved, the file uploaded and the provider batch created,
    // but the process died before recording the provider batch id.
    const key = jobKey(batchId, 1, 1);
    const chunk = await getChunk(database.db, batchId, 1);
    const items = await unfinishedItems(database.db, batchId, chunk.seq_start, chunk.seq_end);
    await reserveJob(database.db, {
      tenant_id: 'default',
      batch_id: batchId,
      chunk_idx: 1,
      attempt: 1,
      provider: 'openai',
      item_count: items.length,
    });
    const requests = toBatchRequests({ model: 'gpt-4.1-mini' }, items);
    const fileId = await provider.stageInput(key, requests);
    await recordInputFile(database.db, key, fileId);
    await setJobStatus(database.db, key, 'creating');
    const orphan = await provider.createBatch(key, requests, fileId);
    assert.equal(emulator.stats().batches_created, 1);

    const first = await env().run(acts.submitChunk, { batchId, chunkIndex: 1, attempt: 1 });
    assert.equal(first.providerBatchId, orphan);
    const second = await env().run(acts.submitChunk, { batchId, chunkIndex: 1, attempt: 1 });
    assert.equal(second.providerBatchId, orphan);
    assert.equal(emulator.stats().batches_created, 1, 'no second provider batch');
    assert.equal(emulator.stats().files_uploaded, 1, 'the recorded upload is reused');

    // A fresh chunk creates exactly one batch however often submit runs.
    const a = await env().run(acts.submitChunk, { batchId, chunkIndex: 2, attempt: 1 });
    const b = await env().run(acts.submitChunk, { batchId, chunkIndex: 2, attempt: 1 });
    assert.equal(a.providerBatchId, b.providerBatchId);
    assert.equal(a.itemCount, 5);
    assert.equal(emulator.stats().batches_created, 2);
  });

  test('a collect run twice writes each result once and reports the same tally', async () => {
    const batchId = await newBatch(10);
    const { providerBatchId } = await env().run(acts.submitChunk, { batchId, chunkIndex: 0, attempt: 1 });
    assert.ok(providerBatchId);
    await env().run(acts.pollProviderBatch, { batchId, providerBatchId });
    const input = { batchId, chunkIndex: 0, attempt: 1, providerBatchId, final: false };
    const t1 = await env().run(acts.collectChunk, input);
    const t2 = await env().run(acts.collectChunk, input);
    assert.deepEqual(t1, t2);
    assert.equal(t1.succeeded, 10);
    assert.ok(t1.usage.input_tokens > 0);
    const { rows } = await database.db.query('SELECT count(*)::int AS n FROM results WHERE batch_id = $1', [batchId]);
    assert.equal(rows[0].n, 10);
    // Nothing left to send: the next attempt submits nothing.
    const again = await env().run(acts.submitChunk, { batchId, chunkIndex: 0, attempt: 2 });
    assert.deepEqual(again, { providerBatchId: null, itemCount: 0, path: 'batch' });
  });

  test('a failed provider batch leaves its items pending for the next attempt, then failed on the last', async () => {
    const batchId = await newBatch(4);
    emulator.setFaults({ batch_fail: { count: 2 } });
    try {
      for (const [attempt, final] of [
        [1, false],
        [2, true],
      ] as const) {
        const { providerBatchId } = await env().run(acts.submitChunk, { batchId, chunkIndex: 0, attempt });
        const poll = await env().run(acts.pollProviderBatch, { batchId, providerBatchId: providerBatchId! });
        assert.equal(poll.state, 'failed');
        const tally = await env().run(acts.collectChunk, { batchId, chunkIndex: 0, attempt, providerBatchId: providerBatchId!, final });
        assert.deepEqual([tally.succeeded, tally.failed, tally.pending], final ? [0, 4, 0] : [0, 0, 4]);
      }
      const { rows } = await database.db.query(`SELECT DISTINCT error->>'code' AS code FROM results WHERE batch_id = $1`, [batchId]);
      assert.deepEqual(rows, [{ code: 'provider_batch_failed' }]);
    } finally {
      emulator.setFaults({});
    }
  });

  test('provider errors become ApplicationFailures Temporal retries correctly', async () => {
    const batchId = await newBatch(3);
    emulator.setFaults({ http: [{ path: '/v1/files', method: 'POST', status: 429, count: 1, retry_after_s: 7 }] });
    const limited = await env()
      .run(acts.submitChunk, { batchId, chunkIndex: 0, attempt: 1 })
      .catch((e) => e);
    assert.ok(limited instanceof ApplicationFailure, String(limited));
    assert.equal(limited.type, 'ProviderRateLimited');
    assert.equal(limited.nonRetryable, false);
    assert.equal(limited.nextRetryDelay, 7000);

    emulator.setFaults({ http: [{ path: '/v1/batches', method: 'POST', status: 400, count: 1 }] });
    const invalid = await env()
      .run(acts.submitChunk, { batchId, chunkIndex: 0, attempt: 1 })
      .catch((e) => e);
    assert.ok(invalid instanceof ApplicationFailure);
    assert.equal(invalid.type, 'ProviderInvalidRequest');
    assert.equal(invalid.nonRetryable, true);
    assert.ok(!String(invalid.message).includes('sk-test'), 'no key in error messages');

    emulator.setFaults({ http: [{ path: '/v1/batches', status: 503, count: 1 }] });
    const down = await env()
      .run(acts.submitChunk, { batchId, chunkIndex: 0, attempt: 1 })
      .catch((e) => e);
    assert.equal(down.type, 'ProviderUnavailable');
    assert.equal(down.nonRetryable, false);

    emulator.setFaults({});
    const ok = await env().run(acts.submitChunk, { batchId, chunkIndex: 0, attempt: 1 });
    assert.ok(ok.providerBatchId);
  });
});
