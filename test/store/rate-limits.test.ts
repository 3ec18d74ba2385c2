import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { requestBurst, SharedRateLimiter } from '../../activities/rate-limiter.js';
import { createScratchDatabase, type ScratchDatabase } from '../../stack/scratch-database.js';
import { createDb, type Db } from '../../store/db.js';

let database: ScratchDatabase;
let second: Db;
before(async () => {
  database = await createScratchDatabase('drover_test');
  // A second pool stands in for a second worker: they share only the database row.
  second = createDb(database.url, 4);
});
after(async () => {
  await second.end();
  await database.drop();
});

test('two workers drawing on one limit never exceed it in any 60-second window', async () => {
  const rpm = 1200;
  const limits = { 'openai/m': { rpm } };
  const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const a = SharedRateLimiter.for(database.db, limits, 'openai', 'm', wait)!;
  const b = SharedRateLimiter.for(second, limits, 'openai', 'm', wait)!;
  assert.equal(a.key, 'openai/m');
  const grants: number[] = [];
  const t0 = performance.now();
  const run = async (l: SharedRateLimiter, n: number) => {
    for (let i = 0; i < n; i++) {
      await l.acquire(0);
      grants.push(performance.now() - t0);
    }
  };
  // 8 callers per worker, 60 grants in all: about 3 s at 20 per second.
  await Promise.all([...Array.from({ length: 8 }, () => run(a, 4)), ...Array.from({ length: 7 }, () => run(b, 4))]);
  grants.sort((x, y) => x - y);
  const seconds = grants[grants.length - 1]! / 1000;
  const rate = (grants.length - requestBurst(rpm)) / seconds;
  console.log(`shared limiter: ${grants.length} grants in ${seconds.toFixed(2)} s, ${rate.toFixed(1)}/s for a limit of ${rpm / 60}/s`);
  // Never faster than the limit (the burst aside), and not much slower either.
  assert.ok(rate <= (rpm / 60) * 1.02, `rate ${rate} over the limit`);
  assert.ok(rate >= (rpm / 60) * 0.8, `rate ${rate} far under the limit`);
});

test('a model without a configured limit is not limited; a provider-wide limit covers its models', () => {
  assert.equal(SharedRateLimiter.for(database.db, { 'openai/m': { rpm: 5 } }, 'openai', 'other'), null);
  assert.equal(SharedRateLimiter.for(database.db, { openai: { rpm: 5 } }, 'openai', 'other')!.key, 'openai');
  assert.deepEqual([1, 150, 500, 5000].map(requestBurst), [1, 1, 5, 5]);
});
