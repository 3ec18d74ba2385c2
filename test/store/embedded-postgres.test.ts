import { readdir } from 'node:fs/promises';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { storeJsonBatch } from '../../api/intake/json-batch.js';
import { startEmbeddedPostgres } from '../../stack/embedded-postgres.js';
import { createDb } from '../../store/db.js';
import { migrate } from '../../store/migrate.js';
import { iterateResults, upsertResults } from '../../store/results.js';

test('the embedded PostgreSQL (PGlite over the wire) runs the same store code as a real server', async () => {
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
    await upsertResults(db, 'default', batchId, 1, [{ seq: 0, status: 'succeeded', output: { a: [1, 2] }, error: null, usage: null, cost_usd: 0 }]);
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
