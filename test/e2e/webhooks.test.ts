import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { describe, test } from 'node:test';
import { SIGNATURE_HEADER, verifyWebhook } from '../../domain/webhook-signature.js';
import { useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

interface Delivery {
  body: string;
  signature: string | undefined;
  eventId: string | undefined;
  answered: number;
}

/** A receiver that answers 500 to the first `failFirst` deliveries of each event, then 204. */
function receiver(failFirst: number): Promise<{ url: string; deliveries: Delivery[]; server: Server }> {
  const deliveries: Delivery[] = [];
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const eventId = req.headers['drover-event-id'] as string | undefined;
      const n = (seen.get(eventId ?? '') ?? 0) + 1;
      seen.set(eventId ?? '', n);
      const answered = n <= failFirst ? 500 : 204;
      deliveries.push({ body, signature: req.headers[SIGNATURE_HEADER] as string | undefined, eventId, answered });
      res.writeHead(answered).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/drover`, deliveries, server }),
    ),
  );
}

describe('webhooks', () => {
  const stack = useStack({ processingMs: 200, worker: true, allowPrivateWebhooks: true });

  test('a finished batch POSTs a signed event, retried until the receiver answers 2xx', async () => {
    const hook = await receiver(2);
    try {
      const created = await stack.post('/v1/batches', {
        model: 'gpt-4.1-mini',
        items: [{ id: 'a', content: 'x' }],
        webhook_url: hook.url,
        metadata: { job: 'nightly' },
      });
      assert.equal(created.status, 202, created.text);
      const secret: string = created.body.webhook_secret;
      assert.match(secret, /^whsec_[0-9a-f]{48}$/);
      assert.equal((await stack.get(`/v1/batches/${created.body.id}`)).body.webhook_secret, undefined, 'GET never shows the secret');
      await stack.waitForBatch(created.body.id);
      await until(() => hook.deliveries.some((d) => d.answered === 204));
      const completed = hook.deliveries.filter((d) => JSON.parse(d.body).type === 'batch.completed');
      assert.deepEqual(
        completed.map((d) => d.answered),
        [500, 500, 204],
        'two failures, then the retry that succeeded',
      );
      assert.equal(new Set(completed.map((d) => d.eventId)).size, 1, 'one event id across retries');
      const last = completed[2]!;
      assert.ok(verifyWebhook(secret, last.body, last.signature), 'the signature verifies with the secret');
      assert.ok(!verifyWebhook(secret, last.body.replace('completed', 'failed'), last.signature), 'a tampered body does not');
      assert.ok(!verifyWebhook('whsec_wrong', last.body, last.signature), 'nor another secret');
      const event = JSON.parse(last.body);
      assert.equal(event.data.batch_id, created.body.id);
      assert.equal(event.data.status, 'completed');
      assert.deepEqual(event.data.metadata, { job: 'nightly' });
      assert.equal(event.data.counts.succeeded, 1);
    } finally {
      hook.server.close();
    }
  });

  test('waiting for budget and being cancelled are events too', async () => {
    const hook = await receiver(0);
    try {
      const created = await stack.post('/v1/batches', {
        model: 'gpt-4.1-mini',
        mode: 'batch',
        items: [{ id: 'a', content: 'x' }],
        max_cost_usd: 0.000001,
        max_output_tokens: 100,
        webhook_url: hook.url,
      });
      await until(() => hook.deliveries.some((d) => JSON.parse(d.body).type === 'batch.awaiting_budget'));
      await stack.post(`/v1/batches/${created.body.id}/cancel`, {});
      await until(() => hook.deliveries.some((d) => JSON.parse(d.body).type === 'batch.cancelled'));
      for (const d of hook.deliveries) assert.ok(verifyWebhook(created.body.webhook_secret, d.body, d.signature));
    } finally {
      hook.server.close();
    }
  });

  test('a webhook_url must be http(s)', async () => {
    const bad = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      items: [{ id: 'a', content: 'x' }],
      webhook_url: 'ftp://example.com/x',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.issues[0].path, 'webhook_url');
  });
});
