import { readdir } from 'node:fs/promises';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { storeJsonBatch } from '../../api/intake/json-batch.js';
import { startEmbeddedPostgres } from '../../stack/embedded-postgres.js';
import { createDb } from '../../store/db.js';
import { migrate } from '../../store/migrate.js';
import { finishBatch, markBatchRunning } from '../../store/batches.js';
import { saveChunks } from '../../store/chunks.js';
import { inTransaction } from '../../store/db.js';
import { iterateResults, upsertResults } from '../../store/results.js';

test('the embedded PostgreSQL runs the same store code as a real server', async () => {
  const pg = await startEmbeddedPostgres();
  const db = createDb(pg.url, 4);
  const ctx = { priceOverrides: {} };
  try {
    const all = (await readdir(new URL('../../store/migrations/', import.meta.url))).filter((f) => f.endsWith('.sql')).sort();
    assert.deepEqual(await migrate(db), all);
    assert.deepEqual(await migrate(db), [], 'migrations apply once');
    const body = { model: 'gpt-4.1-mini', items: Array.from({ length: 3000 }, (_, i) => ({ id: `e${i}`, content: `c${i}` })) };
    // Concurrent transactions from several pool connections must not interleave.
    const stored = await Promise.all([storeJsonBatch(db, 'default', body, ctx), storeJsonBatch(db, 'default', body, ctx)]);
    const { rows } = await db.query('SELECT batch_id, count(*)::int AS n FROM items GROUP BY batch_id');
    assert.equal(rows.length, 2);
    for (const r of rows) assert.equal(r.n, 3000);
    const batchId = stored[0].batch!.id;
    await upsertResults(db, 'default', batchId, 1, [
      { seq: 0, status: 'succeeded', output: { a: [1, 2] }, error: null, usage: null, cost_nanos: 0 },
    ]);
    let n = 0;
    for await (const r of iterateResults(db, batchId)) {
      if (r.seq === 0) assert.deepEqual(r.output, { a: [1, 2] });
      n++;
    }
    assert.equal(n, 3000);
    // A failed transaction leaves nothing behind.
    await assert.rejects(storeJsonBatch(db, 'default', { model: 'gpt-4.1-mini', items: [{ id: 'z' }] }, ctx));
    assert.equal((await db.query('SELECT count(*)::int AS n FROM batches')).rows[0].n, 2);
  } finally {
    await db.end();
    await pg.stop();
  }
});

test('the embedded PostgreSQL loses no write when 40 batches are stored, planned and finished at once', async () => {
  const pg = await startEmbeddedPostgres();
  const db = createDb(pg.url, 10);
  try {
    await migrate(db);
    const body = { model: 'gpt-4.1-mini', items: Array.from({ length: 30 }, (_, i) => ({ id: `b${i}`, content: `c${i}` })) };
    const stored = await Promise.all(Array.from({ length: 40 }, () => storeJsonBatch(db, 'default', body, { priceOverrides: {} })));
    const ids = stored.map((s) => s.batch!.id);
    const chunks = [0, 1, 2].map((idx) => ({
      idx,
      seq_start: idx * 10,
      seq_end: idx * 10 + 10,
      item_count: 10,
      bytes: 100,
      est_input_tokens: 50,
      est_cost_nanos: 10_000_000,
      max_cost_nanos: 20_000_000,
    }));
    // What planBatch and finishBatch do, for every batch at once: a transaction, then a plain update.
    await Promise.all(
      ids.map(async (id) => {
        await inTransaction(db, async (tx) => {
          await saveChunks(tx, 'default', id, chunks);
          await markBatchRunning(tx, id, chunks.length);
        });
        await finishBatch(db, id, {
          status: 'completed',
          succeeded: 30,
          failed: 0,
          usage: { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0 },
          cost_usd: 0,
        });
      }),
    );
    const { rows } = await db.query(
      `SELECT b.status, b.chunk_count, (SELECT count(*)::int FROM chunks c WHERE c.batch_id = b.id) AS chunks,
              (SELECT count(*)::int FROM items i WHERE i.batch_id = b.id) AS items
         FROM batches b WHERE b.id = ANY($1)`,
      [ids],
    );
    assert.equal(rows.length, 40);
    for (const r of rows) assert.deepEqual(r, { status: 'completed', chunk_count: 3, chunks: 3, items: 30 });
  } finally {
    await db.end();
    await pg.stop();
  }
});
