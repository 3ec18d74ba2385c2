import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../domain/failure-types.js';
import { useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

/** [webhook_url, what the 400 must say]: the forms issue #11 lists, each refused at submit. */
const HOSTILE: ReadonlyArray<readonly [string, RegExp]> = [
  ['https://127.0.0.1/hook', /127\.0\.0\.1 is a loopback address/],
  ['https://2130706433/hook', /127\.0\.0\.1 is a loopback address/],
  ['https://0x7f.1/hook', /127\.0\.0\.1 is a loopback address/],
  ['https://017700000001/hook', /127\.0\.0\.1 is a loopback address/],
  ['https://127.1/hook', /127\.0\.0\.1 is a loopback address/],
  ['https://[::1]/hook', /loopback/],
  ['https://10.1.2.3/hook', /private/],
  ['https://172.16.5.4/hook', /private/],
  ['https://192.168.0.10/hook', /private/],
  ['https://100.64.1.1/hook', /CGNAT/],
  ['https://169.254.169.254/latest/meta-data/', /link-local/],
  ['https://0.0.0.0/hook', /unspecified/],
  ['https://[::]/hook', /unspecified/],
  ['https://224.0.0.251/hook', /multicast/],
  ['https://[fd00::1]/hook', /unique local/],
  ['https://[fe80::1]/hook', /link-local/],
  ['https://[::ffff:127.0.0.1]/hook', /IPv4-mapped address of a loopback/],
  ['https://[64:ff9b::7f00:1]/hook', /NAT64 address of a loopback/],
  ['https://localhost/hook', /local name/],
  ['https://api.localhost/hook', /local name/],
  ['https://metadata.google.internal/computeMetadata/v1/', /local name/],
  ['http://hooks.example.com/hook', /must be https/],
];

const ITEMS = [{ id: 'a', content: 'x' }];

describe('webhook_url is refused at submit unless public', () => {
  const stack = useStack();

  const issueAt = (res: { body: any }, path: string) => res.body?.error?.issues?.find((i: any) => i.path === path);

  test('each inside address, encoding and name → 400 naming webhook_url and why, nothing stored', async () => {
    const before = await stack.storedCounts();
    const wrong: string[] = [];
    for (const [url, why] of HOSTILE) {
      const res = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', items: ITEMS, webhook_url: url });
      const issue = issueAt(res, 'webhook_url');
      if (res.status !== 400 || !why.test(issue?.message ?? '')) wrong.push(`${url}: ${res.status} ${res.text}`);
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(await stack.storedCounts(), before, 'a refused request leaves nothing behind');
  });

  test('the NDJSON and uploaded-file forms are checked the same way', async () => {
    const file = await stack.request('POST', '/v1/files?format=jsonl', '{"id":"a","content":"x"}\n', {
      'content-type': 'application/octet-stream',
    });
    assert.equal(file.status, 201, file.text);
    const before = await stack.storedCounts();
    const ndjson = await stack.request(
      'POST',
      `/v1/batches?model=gpt-4.1-mini&webhook_url=${encodeURIComponent('https://0x7f.1/hook')}`,
      '{"id":"a","content":"x"}\n',
      { 'content-type': 'application/x-ndjson' },
    );
    assert.equal(ndjson.status, 400, ndjson.text);
    assert.match(issueAt(ndjson, 'webhook_url')?.message, /loopback/);
    const fromFile = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      input_file_id: file.body.id,
      webhook_url: 'https://169.254.169.254/',
    });
    assert.equal(fromFile.status, 400, fromFile.text);
    assert.match(issueAt(fromFile, 'webhook_url')?.message, /link-local/);
    assert.deepEqual(await stack.storedCounts(), before);
  });

  test('a public https receiver is accepted', async () => {
    const res = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      items: ITEMS,
      webhook_url: 'https://hooks.example.com/drover',
      dry_run: true,
    });
    assert.equal(res.status, 200, res.text);
  });
});

describe('webhook refused again at delivery', () => {
  // The API allows private targets and the worker does not: a batch stored while the operator
  // allowed them, delivered after they stopped. The worker's own check is all that stands.
  const stack = useStack({ processingMs: 200, worker: true, api: { DROVER_WEBHOOK_ALLOW_PRIVATE: 'true' } });

  test('the delivery ends at once as refused, nothing is sent, and the batch completes as usual', async () => {
    let received = 0;
    const inside = createServer((req, res) => {
      received++;
      req.resume().on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((r) => inside.listen(0, '127.0.0.1', r));
    try {
      const created = await stack.post('/v1/batches', {
        model: 'gpt-4.1-mini',
        items: ITEMS,
        webhook_url: `http://127.0.0.1:${(inside.address() as AddressInfo).port}/hook`,
      });
      assert.equal(created.status, 202, created.text);
      const done = await stack.waitForBatch(created.body.id);
      assert.equal(done.status, 'completed');
      assert.equal(done.counts.succeeded, 1);
      const deliveryId = await until(async () => {
        for await (const w of stack.client.workflow.list({ query: `WorkflowType = 'deliverWebhookWorkflow'` })) return w.workflowId;
        return '';
      });
      assert.ok(deliveryId.startsWith(`${created.body.id}/evt_`));
      const err = await stack.client.workflow
        .getHandle(deliveryId)
        .result()
        .then(
          () => assert.fail('the delivery was expected to fail'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ActivityFailure);
      assert.ok(err.cause.cause instanceof ApplicationFailure);
      assert.equal(err.cause.cause.type, FailureType.WebhookRefused);
      assert.match(err.cause.cause.message, /DROVER_WEBHOOK_ALLOW_PRIVATE/);
      const history = await stack.client.workflow.getHandle(deliveryId).fetchHistory();
      const attempts = history.events
        ?.filter((e) => e.activityTaskStartedEventAttributes)
        .map((e) => e.activityTaskStartedEventAttributes!.attempt);
      assert.deepEqual(attempts, [1], 'one attempt: a refusal is not retried');
      assert.equal(received, 0, 'nothing reached the inside receiver');
    } finally {
      inside.close();
    }
  });
});
