import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStack } from '../helpers/stack.js';
import { sleep } from '../helpers/wait.js';

const BATCHES = 40;
const ITEMS = 30;
const ENDED = ['completed', 'completed_with_failures', 'failed', 'cancelled', 'timed_out', 'budget_exhausted'];

/**
 * The embedded store of `npm run dev` under a burst: 40 batches submitted as fast as the API
 * takes them, each planned into 3 chunks, then the store checked row by row. The PGlite store
 * it replaced lost 9 of 40 such writes on every run; a lost write here is a batch that never
 * ends or a row count that does not match.
 */
describe('the embedded store under a burst of submits', () => {
  const stack = useStack({ embeddedStore: true, processingMs: 200, worker: true });

  test('40 batches at once: every batch ends completed, every chunk and result row is there', async () => {
    const body = {
      model: 'gpt-4.1-mini',
      chunk_size: 10,
      items: Array.from({ length: ITEMS }, (_, i) => ({ id: `i${i}`, content: `item ${i}` })),
    };
    const started = performance.now();
    const created = await Promise.all(Array.from({ length: BATCHES }, () => stack.post('/v1/batches', body)));
    const sentPerS = BATCHES / ((performance.now() - started) / 1000);
    assert.deepEqual(
      created.filter((c) => c.status !== 202).map((c) => c.text),
      [],
      'every submit accepted',
    );
    const ids = created.map((c) => c.body.id as string);
    const open = new Set(ids);
    const deadline = Date.now() + 180_000;
    while (open.size > 0 && Date.now() < deadline) {
      for (const id of [...open]) if (ENDED.includes((await stack.get(`/v1/batches/${id}`)).body?.status)) open.delete(id);
      await sleep(250);
    }
    assert.equal(open.size, 0, `batches never ended: ${[...open].join(', ')}`);
    const { rows } = await stack.db.query(
      `SELECT b.id, b.status, b.chunk_count, (SELECT count(*)::int FROM chunks c WHERE c.batch_id = b.id) AS chunks,
              (SELECT count(*)::int FROM results r WHERE r.batch_id = b.id) AS results
         FROM batches b WHERE b.id = ANY($1)`,
      [ids],
    );
    assert.equal(rows.length, BATCHES, 'every batch row stored');
    const wrong = rows.filter((r) => r.status !== 'completed' || r.chunks !== r.chunk_count || r.results !== ITEMS);
    assert.deepEqual(wrong, [], 'no lost write');
    console.log(`embedded store burst: ${BATCHES} batches sent at ${sentPerS.toFixed(0)}/s, all completed, 0 rows wrong`);
  });
});
