import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, test } from 'node:test';
import { TERMINAL_BATCH_STATUSES } from '../../domain/responses.js';
import { type TestStack, useStack } from '../helpers/stack.js';
import { sleep, until } from '../helpers/wait.js';

/** How long the receiver keeps each delivery waiting before it answers 500. */
const RECEIVER_STALL_MS = 2000;

/** A receiver that is down in the slowest way: it holds every delivery, then answers 500. */
async function brokenReceiver() {
  const attempts: Array<{ at: number; eventId: string; type: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      attempts.push({ at: Date.now(), eventId: String(req.headers['drover-event-id']), type: JSON.parse(body).type });
      setTimeout(() => res.writeHead(500).end('down'), RECEIVER_STALL_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`;
  const close = () => {
    server.closeAllConnections();
    server.close();
  };
  return { url, attempts, close };
}

/** Submits and polls every 100 ms; the time from submit to the status the API first shows final. */
async function timed(stack: TestStack, request: Record<string, unknown>) {
  const t0 = Date.now();
  const created = await stack.post('/v1/batches', request);
  assert.equal(created.status, 202, created.text);
  for (;;) {
    const { body } = await stack.get(`/v1/batches/${created.body.id}`);
    if (TERMINAL_BATCH_STATUSES.includes(body.status)) return { batch: body, ms: Date.now() - t0 };
    if (Date.now() - t0 > 60_000) throw new Error(`batch still ${body.status}`);
    await sleep(100);
  }
}

/**
 * Issue 7: a webhook is off the batch's critical path. Its deliveries run in abandoned child
 * workflows, so a receiver that stalls and answers 500 for ever delays nothing: the batch ends
 * when a batch without a webhook would, and the deliveries go on retrying after it.
 */
describe('a webhook receiver that is down', () => {
  const stack = useStack({ processingMs: 300, worker: true, allowPrivateWebhooks: true });

  test('the batch ends as fast as one without a webhook; its delivery keeps retrying after the batch closed', async () => {
    const hook = await brokenReceiver();
    try {
      const items = (p: string) => Array.from({ length: 20 }, (_, i) => ({ id: `${p}${i}`, content: `Review ${i}: it broke in a day.` }));
      const base = { model: 'gpt-4.1-mini', mode: 'batch', chunk_size: 10 };
      // Side by side, so both see the same load on the machine.
      const [control, hooked] = await Promise.all([
        timed(stack, { ...base, items: items('plain') }),
        timed(stack, { ...base, items: items('hooked'), webhook_url: hook.url }),
      ]);
      const closeTime = async (id: string) => {
        // The store says the batch ended a moment before its workflow returns.
        const handle = stack.client.workflow.getHandle(id);
        await handle.result();
        const d = await handle.describe();
        assert.equal(d.status.name, 'COMPLETED', `${id} workflow closed`);
        return { ms: d.closeTime!.getTime() - d.startTime.getTime() };
      };
      const [controlWf, hookedWf] = await Promise.all([closeTime(control.batch.id), closeTime(hooked.batch.id)]);
      console.log(
        `receiver down: batch with webhook ${hooked.ms} ms (workflow ${hookedWf.ms} ms), without ${control.ms} ms ` +
          `(workflow ${controlWf.ms} ms)`,
      );
      assert.equal(control.batch.status, 'completed');
      assert.equal(hooked.batch.status, 'completed');
      // One delivery held on the critical path would cost the receiver's stall (2 s) at least.
      assert.ok(hookedWf.ms < controlWf.ms + RECEIVER_STALL_MS / 2, `workflow ${hookedWf.ms} ms vs ${controlWf.ms} ms`);
      assert.ok(hooked.ms < control.ms + RECEIVER_STALL_MS / 2, `seen by the API after ${hooked.ms} ms vs ${control.ms} ms`);

      // The delivery goes on after the batch closed: its own workflow runs, retrying.
      const tries = await until(
        () => hook.attempts.filter((a) => a.type === 'batch.completed'),
        (a) => a.length >= 2,
        { what: 'a second delivery attempt', timeoutMs: 20_000 },
      );
      assert.equal(new Set(tries.map((a) => a.eventId)).size, 1, 'one event, retried');
      const delivery = stack.client.workflow.getHandle(`${hooked.batch.id}/${tries[0]!.eventId}`);
      const d = await delivery.describe();
      assert.equal(d.status.name, 'RUNNING', 'the delivery still runs after its batch closed');
      assert.ok(d.raw.pendingActivities?.[0]?.attempt && d.raw.pendingActivities[0].attempt >= 2, 'and is retrying');
      console.log(`receiver down: ${tries.length} attempts so far, ${tries[1]!.at - tries[0]!.at} ms apart`);
      await delivery.terminate('test over');
    } finally {
      hook.close();
    }
  });
});
