import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, startTemporalDevServer, type DevServer } from '../../stack/temporal-server.js';
import { useStack } from '../helpers/stack.js';
import { sleep, until } from '../helpers/wait.js';

/** The age of the worker's health file, as the compose and Kubernetes probes compute it. */
const ageOf = async (file: string): Promise<number> => Date.now() - (await stat(file)).mtimeMs;

/**
 * The worker's health file says it is polling, not that a timer fires: cut off from its Temporal
 * server it stops touching the file (so a probe restarts it), and once the server is back it
 * touches it again.
 */
describe('the worker health file follows its connection to Temporal', () => {
  let dir: string;
  let port: number;
  let server: DevServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drover-health-'));
    port = await freePort();
    server = await startTemporalDevServer({ port, dbFile: join(dir, 'temporal.db') });
  });
  const stack = useStack({ temporalAddress: () => server.address });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('fresh while polling, stale while the server is down, fresh again after it is back', async () => {
    const file = join(dir, 'alive');
    const worker = await stack.startWorker({ DROVER_HEALTH_FILE: file, DROVER_HEALTH_EVERY_MS: '300' });
    await until(
      () => ageOf(file).catch(() => Infinity),
      (age) => age < 1000,
      { what: 'health file written' },
    );
    const firstBeat = (await stat(file)).mtimeMs;
    await sleep(1000);
    assert.ok((await stat(file)).mtimeMs > firstBeat, 'touched again while polling');

    await server.stop();
    const downAt = Date.now();
    // One beat may have been under way when the server went; after that, no more.
    const staleFrom = (await stat(file)).mtimeMs;
    await sleep(4000);
    const age = await ageOf(file);
    assert.ok(age >= 3500, `not touched for ${age} ms while the server is down`);
    assert.ok((await stat(file)).mtimeMs - staleFrom < 1000, 'no beat after the server went');
    assert.equal(worker.child.exitCode, null, 'the worker process itself still runs');
    assert.match(worker.output(), /worker unhealthy/);

    server = await startTemporalDevServer({ port, dbFile: join(dir, 'temporal.db') });
    await until(
      () => ageOf(file),
      (a) => a < 1000,
      { what: 'health file fresh again', timeoutMs: 30_000 },
    );
    console.log(`worker-health: stale ${Math.round((Date.now() - downAt) / 1000)} s with the server down, fresh again once it was back`);
  });
});
