import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStack } from '../helpers/stack.js';
import { sleep, until } from '../helpers/wait.js';

const items = (n: number, p: string) => Array.from({ length: n }, (_, i) => ({ id: `${p}${i}`, content: `Ticket ${i}: late parcel.` }));

/**
 * A rolling upgrade under Worker Deployment Versioning, as the README describes it: workers of
 * build v1 serve batches once v1 is made current; workers of v2 start beside them; making v2
 * current moves running batches over (auto-upgrade) and new ones start there; v1 then stops.
 */
describe('Worker Deployment Versioning: a rolling upgrade', () => {
  const stack = useStack({ processingMs: 1500 });
  const deployment = `drover-test-${process.pid}`;

  async function setCurrent(buildId: string) {
    // The version exists once a worker of it has polled: until then the server refuses it.
    await until(
      () =>
        stack.client.workflowService
          .setWorkerDeploymentCurrentVersion({ namespace: stack.temporal.namespace, deploymentName: deployment, buildId })
          .then(
            () => true,
            (err: Error) => err.message,
          ),
      (r) => r === true,
      { timeoutMs: 30_000, intervalMs: 500, what: `${buildId} made current` },
    );
  }
  const versionOf = async (id: string) =>
    (await stack.client.workflow.getHandle(id).describe()).raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId;

  test('nothing runs before a version is current; v1 runs batches; v2 takes over running and new ones', async () => {
    const v1 = await stack.startWorker({ DROVER_DEPLOYMENT_NAME: deployment, DROVER_BUILD_ID: 'v1' });
    const first = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'batch',
      chunk_size: 5,
      max_parallel_chunks: 1,
      items: items(15, 'a'),
    });
    assert.equal(first.status, 202, first.text);
    await sleep(1500);
    assert.equal(
      (await stack.get(`/v1/batches/${first.body.id}`)).body.status,
      'queued',
      'a versioned queue runs nothing until a version is current',
    );

    await setCurrent('v1');
    await until(
      () => stack.get(`/v1/batches/${first.body.id}`),
      (r) => r.body.status === 'running',
    );
    assert.equal(await versionOf(first.body.id), 'v1');

    const v2 = await stack.startWorker({ DROVER_DEPLOYMENT_NAME: deployment, DROVER_BUILD_ID: 'v2' });
    await setCurrent('v2');
    const second = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'batch', chunk_size: 5, items: items(10, 'b') });
    // v1 drains: its running batch moves to v2 at its next workflow task.
    await v1.kill('SIGTERM');

    for (const id of [first.body.id, second.body.id]) {
      const done = await stack.waitForBatch(id, 120_000);
      assert.equal(done.status, 'completed', JSON.stringify(done.counts));
      assert.equal(done.counts.succeeded, done.counts.total);
      assert.equal(await versionOf(id), 'v2', `${id} finished on v2`);
    }
    await v2.kill('SIGTERM');
  });
});
