import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { storeJsonBatch } from '../../api/intake/json-batch.js';
import { createActivities } from '../../activities/index.js';
import { toBatchRequests } from '../../activities/chunks.js';
import { serialised, settleLostCreates } from '../../activities/lost-creates.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { AnthropicBatchProvider, createAnthropicClient, jobTag } from '../../providers/anthropic.js';
import { createScratchDatabase, type ScratchDatabase } from '../../stack/scratch-database.js';
import { getChunk } from '../../store/chunks.js';
import { unfinishedItems } from '../../store/items.js';
import { findJob, jobKey, markCreating, reserveJob, withCreateLock } from '../../store/provider-jobs.js';

/**
 * Anthropic batches carry no metadata, so a create that died before it was recorded is found by
 * time and size alone, which equal-sized chunks share. These tests stage exactly those crashes
 * against the real store and the emulator and check that each job gets its own batch back.
 */
describe('Anthropic: a lost create is found as its own batch, never a sibling', () => {
  let database: ScratchDatabase;
  let emulator: Emulator;
  let provider: AnthropicBatchProvider;
  let acts: ReturnType<typeof createActivities>;
  const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
    new MockActivityEnvironment().run(fn, ...args) as Promise<R>;

  before(async () => {
    // Batches stay in progress (their requests cannot be read) unless a test shortens processing.
    [database, emulator] = await Promise.all([createScratchDatabase('drover_test'), startEmulator({ processingMs: 120_000 })]);
    provider = new AnthropicBatchProvider(createAnthropicClient({ apiKey: 'sk-ant-test', baseURL: emulator.url }));
    acts = createActivities({ db: database.db, providers: { batch: { anthropic: provider }, realtime: {} } });
  });
  after(async () => {
    await emulator?.close();
    await database?.drop();
  });

  /** A batch of two chunks of 10 items each: the same request count. */
  async function twoEqualChunks(): Promise<string> {
    const stored = await storeJsonBatch(
      database.db,
      'default',
      {
        model: 'claude-sonnet-4-5',
        items: Array.from({ length: 20 }, (_, i) => ({ id: `x${i}`, content: `item ${i}` })),
        chunk_size: 10,
        mode: 'batch',
      },
      { priceOverrides: {} },
    );
    assert.ok(stored.created);
    await run(acts.planBatch, { batchId: stored.batch.id });
    return stored.batch.id;
  }

  /**
   * What `submitChunk` does up to its create, then a crash: the job is reserved and marked
   * `creating` and the batch created, but its id never recorded. `settle` runs the steps a real
   * submit takes first under the workspace's create lock; without it, two crashes are staged
   * side by side with nothing between them.
   */
  async function crashAfterCreate(batchId: string, chunkIdx: number, opts: { settle: boolean; create?: boolean }): Promise<string | null> {
    const key = jobKey(batchId, chunkIdx, 1);
    const chunk = await getChunk(database.db, batchId, chunkIdx);
    const items = await unfinishedItems(database.db, batchId, chunk.seq_start, chunk.seq_end);
    const job = {
      tenant_id: 'default',
      batch_id: batchId,
      chunk_idx: chunkIdx,
      attempt: 1,
      provider: 'anthropic',
      item_count: items.length,
    };
    await reserveJob(database.db, job);
    const create = async () => {
      if (opts.settle) await settleLostCreates(database.db, provider, { exceptKey: key });
      assert.ok(await markCreating(database.db, key));
      return opts.create === false ? null : provider.createBatch(key, toBatchRequests({ model: 'claude-sonnet-4-5' }, items), null);
    };
    return run(() => (opts.settle ? serialised(database.db, provider, create) : create()));
  }

  test('two equal-sized chunks created back to back, each dying before it records, get their own running batch', async () => {
    const batchId = await twoEqualChunks();
    emulator.reset();
    const x = await crashAfterCreate(batchId, 0, { settle: true });
    // The second create first settles the first one's: found (the only candidate) and recorded.
    const y = await crashAfterCreate(batchId, 1, { settle: true });
    assert.ok(x && y && x !== y);
    assert.equal((await findJob(database.db, jobKey(batchId, 0, 1)))?.provider_batch_id, x);
    assert.equal((await findJob(database.db, jobKey(batchId, 1, 1)))?.provider_batch_id, null);

    const a = await run(acts.submitChunk, { batchId, chunkIndex: 0, attempt: 1 });
    const b = await run(acts.submitChunk, { batchId, chunkIndex: 1, attempt: 1 });
    assert.equal(a.providerBatchId, x);
    assert.equal(b.providerBatchId, y, 'chunk 1 finds its own batch: the recorded sibling is left out');
    assert.equal(emulator.stats().anthropic.batches_created, 2, 'neither chunk created again');
  });

  test('two lost creates side by side, both ended: the job tag in the custom_ids tells them apart, and results map back to seqs', async () => {
    const batchId = await twoEqualChunks();
    emulator.reset();
    emulator.setFaults({ processing_ms: 0 });
    try {
      const x = await crashAfterCreate(batchId, 0, { settle: false });
      const y = await crashAfterCreate(batchId, 1, { settle: false });
      assert.ok(x && y && x !== y);
      // Both unrecorded, same size, same window: only the tag can tell.
      const since = { createdAfter: new Date(Date.now() - 60_000), requestCount: 10 };
      assert.equal(await provider.findBatch(jobKey(batchId, 0, 1), since), x);
      assert.equal(await provider.findBatch(jobKey(batchId, 1, 1), since), y);
      assert.equal(await provider.findBatch(jobKey(batchId, 0, 2), since), null, 'a key that created nothing finds nothing');

      const b = await run(acts.submitChunk, { batchId, chunkIndex: 1, attempt: 1 });
      const a = await run(acts.submitChunk, { batchId, chunkIndex: 0, attempt: 1 });
      assert.deepEqual([a.providerBatchId, b.providerBatchId], [x, y]);
      assert.equal(emulator.stats().anthropic.batches_created, 2);

      const raw = await provider.results(y)[Symbol.asyncIterator]().next();
      assert.match(String(raw.value?.customId), /^1\d$/, 'the tag is stripped: results join on the seq');
      const tally = await run(acts.collectChunk, { batchId, chunkIndex: 1, attempt: 1, providerBatchId: y, final: true });
      assert.equal(tally.succeeded, 10);
    } finally {
      emulator.setFaults({});
    }
  });

  test("a create that never landed is not given a sibling's batch", async () => {
    const batchId = await twoEqualChunks();
    emulator.reset();
    // Chunk 0 died after marking `creating` but before its create reached Anthropic; chunk 1's
    // create, made afterwards, settles it first: nothing there, so chunk 0 is free to create.
    assert.equal(await crashAfterCreate(batchId, 0, { settle: true, create: false }), null);
    const y = await crashAfterCreate(batchId, 1, { settle: true });
    assert.equal((await findJob(database.db, jobKey(batchId, 0, 1)))?.status, 'reserved');
    const a = await run(acts.submitChunk, { batchId, chunkIndex: 0, attempt: 1 });
    assert.ok(a.providerBatchId && a.providerBatchId !== y);
    assert.equal(emulator.stats().anthropic.batches_created, 2);

    // Without the settling: a recorded sibling is left out, and so is an ended one with another tag.
    const key = jobKey(batchId, 0, 7);
    const hint = { createdAfter: new Date(Date.now() - 60_000), requestCount: 10 };
    assert.equal(await provider.findBatch(key, { ...hint, recorded: new Set([a.providerBatchId, y!]) }), null);
    emulator.setFaults({ processing_ms: 0 });
    try {
      const other = await provider.createBatch(
        jobKey(batchId, 1, 7),
        Array.from({ length: 10 }, (_, i) => ({
          customId: String(10 + i),
          request: { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] },
        })),
        null,
      );
      await new Promise((r) => setTimeout(r, 50));
      assert.notEqual(jobTag(key), jobTag(jobKey(batchId, 1, 7)));
      assert.equal(await provider.findBatch(key, { ...hint, recorded: new Set([a.providerBatchId, y!]) }), null, `not ${other}`);
    } finally {
      emulator.setFaults({});
    }
  });

  test("creates of one workspace wait for each other: a submit does not create while the workspace's lock is held", async () => {
    const batchId = await twoEqualChunks();
    emulator.reset();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const holding = new Promise<void>((r) => (entered = r));
    const holder = withCreateLock(database.db, provider.createScope, async () => {
      entered();
      await held;
    });
    await holding;
    const submit = run(acts.submitChunk, { batchId, chunkIndex: 0, attempt: 1 });
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(emulator.stats().anthropic.batches_created, 0, 'no create while another holds the lock');
    release();
    await holder;
    const done = await submit;
    assert.ok(done.providerBatchId);
    assert.equal(emulator.stats().anthropic.batches_created, 1);
    // The lock was released: another chunk creates at once.
    await run(acts.submitChunk, { batchId, chunkIndex: 1, attempt: 1 });
    assert.equal(emulator.stats().anthropic.batches_created, 2);
  });
});
