import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../stack/embedded-postgres.js';
import { freePort, startTemporalDevServer, type DevServer } from '../../stack/temporal-server.js';
import { createDb } from '../../store/db.js';
import { migrate } from '../../store/migrate.js';
import { assertBatchAddsUp, assertProviderClean } from '../helpers/invariants.js';
import { type TestStack, useStack } from '../helpers/stack.js';
import { sleep, until } from '../helpers/wait.js';

const ITEMS = 40;

function itemIds(prefix: string) {
  return Array.from({ length: ITEMS }, (_, i) => `${prefix}${i}`);
}

/** Posts a 4-chunk batch and resolves once its provider batches run, the moment to pull a server away. */
async function batchUnderWay(stack: TestStack, ids: string[]): Promise<string> {
  const created = await stack.post('/v1/batches', {
    model: 'gpt-4.1-mini',
    mode: 'batch',
    chunk_size: 10,
    items: ids.map((id) => ({ id, content: `Extract the city from note ${id}: shipped from Lyon.` })),
  });
  assert.equal(created.status, 202, created.text);
  const id = created.body.id as string;
  await until(
    () => stack.db.query(`SELECT count(*)::int AS n FROM provider_jobs WHERE batch_id = $1 AND status = 'submitted'`, [id]),
    (r) => r.rows[0].n >= 2,
    { what: 'provider batches running', intervalMs: 20 },
  );
  return id;
}

async function assertCompleted(stack: TestStack, id: string, ids: string[]) {
  const done = await stack.waitForBatch(id, 120_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.counts));
  assert.equal(done.counts.succeeded, ITEMS);
  await assertBatchAddsUp(stack, done, ids);
  const provider = await assertProviderClean(stack, [id]);
  assert.equal(provider.created, ITEMS / 10, 'one provider batch per chunk');
}

/**
 * The Temporal server goes away mid-batch and comes back with its history (a SQLite file): the
 * worker's pollers and the API's client reconnect by themselves, and the batch finishes.
 */
describe('the Temporal server restarted mid-batch', () => {
  let dir: string;
  let port: number;
  let server: DevServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drover-temporal-'));
    port = await freePort();
    server = await startTemporalDevServer({ port, dbFile: join(dir, 'temporal.db') });
  });
  const stack = useStack({ processingMs: 2500, temporalAddress: () => server.address });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('SIGKILL of the server, 4 s down, restarted on the same file: the batch completes', async () => {
    const worker = await stack.startWorker();
    const ids = itemIds('t');
    const id = await batchUnderWay(stack, ids);
    process.kill(server.pid!, 'SIGKILL');
    await until(() => {
      try {
        process.kill(server.pid!, 0);
        return false;
      } catch {
        return true;
      }
    });
    await sleep(4000);
    server = await startTemporalDevServer({ port, dbFile: join(dir, 'temporal.db') });
    const back = Date.now();
    await assertCompleted(stack, id, ids);
    console.log(`restart-servers: Temporal back, the batch completed ${Date.now() - back} ms later`);
    assert.equal(worker.child.exitCode, null, `the worker kept running through the outage:\n${worker.output().slice(-2000)}`);
    // The SDK's core retried its calls (heartbeats, task completions, polls) through the outage.
    assert.match(worker.output(), /Unavailable/, 'the worker saw the server gone');
  });
});

/**
 * The PostgreSQL server goes away mid-batch for longer than one activity retry and comes back:
 * the activities that failed meanwhile are retried, the pools of the worker and the API reconnect,
 * and the batch finishes.
 */
describe('PostgreSQL restarted mid-batch', () => {
  let dataDir: string;
  let port: number;
  let postgres: EmbeddedPostgres;
  const stack = useStack({
    processingMs: 1500,
    database: async () => {
      // PostgreSQL runs as another user under root: the data directory itself is what it is given.
      dataDir = await mkdtemp(join(tmpdir(), 'drover-pg-restart-'));
      port = await freePort();
      postgres = await startEmbeddedPostgres({ dataDir, port });
      const db = createDb(postgres.url);
      await migrate(db);
      return {
        url: postgres.url,
        db,
        async drop() {
          await db.end();
          await postgres.stop();
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    },
  });

  test('stopped for 6 s while the provider batches run: the batch completes', async () => {
    const worker = await stack.startWorker();
    const ids = itemIds('p');
    const id = await batchUnderWay(stack, ids);
    await postgres.stop();
    await sleep(6000);
    postgres = await startEmbeddedPostgres({ dataDir, port });
    const back = Date.now();
    await assertCompleted(stack, id, ids);
    const failed = worker.output().match(/"msg":"Activity failed"/g)?.length ?? 0;
    console.log(
      `restart-servers: PostgreSQL back, the batch completed ${Date.now() - back} ms later; ${failed} activity tries failed meanwhile`,
    );
    assert.ok(failed > 0 && /ECONNREFUSED/.test(worker.output()), 'activities failed while the store was down, and were retried');
  });
});
