import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { storeJsonBatch } from '../../api/intake/json-batch.js';
import { DroverMetrics } from '../../metrics/drover-metrics.js';
import { createScratchDatabase, type ScratchDatabase } from '../../stack/scratch-database.js';
import { closeUnfinished, countResults, iterateResults, markUnanswered, upsertResults, type NewResult } from '../../store/results.js';

let database: ScratchDatabase;
before(async () => {
  database = await createScratchDatabase('drover_test');
});
after(() => database.drop());

const row = (seq: number, status: NewResult['status'], cost: number): NewResult => ({
  seq,
  status,
  output: status === 'succeeded' ? { ok: true } : null,
  error: status === 'succeeded' ? null : { code: 'server_error', message: 'x' },
  usage: null,
  cost_nanos: cost,
  path: 'batch',
});

/**
 * What the metrics count comes from the store's own writes: an item counts once, at the write
 * that makes it final, whatever is rewritten (a retried collect) around it, and the cost counter
 * ends equal to the spend the store reports.
 */
test('result writes report each item made final once, and the cost they added', async () => {
  const { db } = database;
  const body = { model: 'gpt-4.1-mini', items: Array.from({ length: 6 }, (_, i) => ({ id: `i${i}`, content: `c${i}` })) };
  const batch = (await storeJsonBatch(db, 'default', body, { priceOverrides: {} })).batch!;
  const metrics = new DroverMetrics({ processMetrics: false });
  const write = async (p: Promise<Parameters<DroverMetrics['resultsWritten']>[1]>) => {
    const effect = await p;
    metrics.resultsWritten(batch, effect);
    return effect;
  };

  // Attempt 1: two succeed, one fails for now (pending, paid), three get no answer (pending, unpaid).
  const first = [row(0, 'succeeded', 1_000_000), row(1, 'succeeded', 2_000_000), row(2, 'pending', 500_000)];
  const e1 = await write(upsertResults(db, 'default', batch.id, 1, first));
  assert.deepEqual(e1.finals, [{ status: 'succeeded', path: 'batch', n: 2 }]);
  assert.equal(e1.costNanos, 3_500_000);
  await write(
    markUnanswered(db, 'default', batch.id, { seq_start: 0, seq_end: 6 }, 1, 'pending', { code: 'missing_result', message: 'm' }),
  );

  // The same collect again (a retried activity): nothing new.
  const again = await write(upsertResults(db, 'default', batch.id, 1, first));
  assert.deepEqual(again, { finals: [], costNanos: 0 });

  // Attempt 2: the pending one succeeds (its first cost stays, in prior_cost_usd), one more fails for good.
  const e2 = await write(upsertResults(db, 'default', batch.id, 2, [row(2, 'succeeded', 1_000_000), row(3, 'failed', 200_000)]));
  assert.deepEqual(
    e2.finals.sort((a, b) => a.status.localeCompare(b.status)),
    [
      { status: 'failed', path: 'batch', n: 1 },
      { status: 'succeeded', path: 'batch', n: 1 },
    ],
  );
  // A stale attempt-1 rewrite cannot touch the rows attempt 2 closed.
  assert.deepEqual(await write(upsertResults(db, 'default', batch.id, 1, first.slice(2))), { finals: [], costNanos: 0 });

  // The batch stops: the two left are cancelled, once.
  const closed = await write(closeUnfinished(db, 'default', batch.id, { code: 'batch_cancelled', message: 'c' }));
  assert.deepEqual(closed.finals, [{ status: 'cancelled', path: null, n: 2 }]);
  assert.deepEqual(await write(closeUnfinished(db, 'default', batch.id, { code: 'batch_cancelled', message: 'c' })), {
    finals: [],
    costNanos: 0,
  });

  const items = await metrics.items.get();
  const counted = Object.fromEntries(items.values.map((v) => [`${v.labels.path}/${v.labels.status}`, v.value]));
  assert.deepEqual(counted, { 'batch/succeeded': 3, 'batch/failed': 1, 'none/cancelled': 2 });
  const store = await countResults(db, batch.id);
  assert.equal(store.succeeded + store.failed + store.cancelled, 6);
  const cost = (await metrics.cost.get()).values[0]!.value;
  assert.equal(cost, store.cost_usd, 'the counter is the spend, exactly');
  assert.equal(cost, 0.0047);
});

/** Export pages are windows of seqs: rows in order, each once, a status filter kept across windows. */
test('iterateResults reads every row once, in order, across windows of seqs, with and without a status filter', async () => {
  const { db } = database;
  const body = { model: 'gpt-4.1-mini', items: Array.from({ length: 11 }, (_, i) => ({ id: `w${i}`, content: `c${i}` })) };
  const batch = (await storeJsonBatch(db, 'default', body, { priceOverrides: {} })).batch!;
  await upsertResults(db, 'default', batch.id, 1, [
    row(0, 'succeeded', 1),
    row(4, 'failed', 0),
    row(5, 'failed', 0),
    row(10, 'succeeded', 2),
  ]);
  const all = [];
  for await (const r of iterateResults(db, batch.id, undefined, 3)) all.push(`${r.item_id}:${r.status}`);
  assert.deepEqual(
    all,
    [
      'w0:succeeded',
      'w1:pending',
      'w2:pending',
      'w3:pending',
      'w4:pending',
      'w5:pending',
      'w6:pending',
      'w7:pending',
      'w8:pending',
      'w9:pending',
      'w10:succeeded',
    ].map((s, i) => ([4, 5].includes(i) ? `w${i}:failed` : s)),
  );
  const succeeded = [];
  for await (const r of iterateResults(db, batch.id, 'succeeded', 3)) succeeded.push(r.item_id);
  assert.deepEqual(succeeded, ['w0', 'w10']);
  const none = [];
  for await (const r of iterateResults(db, 'batch_none', undefined, 3)) none.push(r);
  assert.deepEqual(none, []);
});
