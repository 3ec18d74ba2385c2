import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStack } from '../helpers/stack.js';

/**
 * What `npm run dev` runs without DATABASE_URL: the API and a worker on the embedded PostgreSQL
 * (a server from npm, started by the stack). Every request has a deadline, so a lock-up fails the
 * test instead of hanging it.
 */
describe('the local stack on the embedded store', () => {
  const stack = useStack({ processingMs: 200, embeddedStore: true, worker: true });

  const call = async (method: string, path: string, body?: unknown) => {
    // FormData brings its own multipart content type; anything else is sent as JSON.
    const init =
      body === undefined
        ? {}
        : body instanceof FormData
          ? { body, headers: stack.auth }
          : { body: JSON.stringify(body), headers: { ...stack.auth, 'content-type': 'application/json' } };
    const res = await fetch(stack.api.url + path, { method, headers: stack.auth, ...init, signal: AbortSignal.timeout(20_000) });
    return { status: res.status, body: (await res.json()) as any };
  };

  test('an uploaded file is validated, estimated and run as a batch', async () => {
    const lines = Array.from({ length: 120 }, (_, i) => JSON.stringify({ id: `f${i}`, content: `ticket ${i}` })).join('\n') + '\n';
    const form = new FormData();
    form.append('file', new Blob([lines]), 'tickets.jsonl');
    const file = await call('POST', '/v1/files', form);
    assert.equal(file.status, 201, JSON.stringify(file.body));
    const spec = { model: 'gpt-4.1-mini', operation: 'classify', categories: ['billing', 'other'], input_file_id: file.body.id };
    const check = await call('POST', '/v1/batches/validate', spec);
    assert.deepEqual([check.body.valid, check.body.item_count], [true, 120]);
    const estimate = await call('POST', '/v1/batches/estimate', spec);
    assert.equal(estimate.body.item_count, 120);
    const created = await call('POST', '/v1/batches', { ...spec, mode: 'batch', chunk_size: 50 });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const done = await stack.waitForBatch(created.body.id, 60_000);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.counts.succeeded, 120);
    const page = await call('GET', `/v1/batches/${created.body.id}/results?limit=1000`);
    assert.equal(page.body.total, 120);
    assert.ok(page.body.data.every((r: any) => ['billing', 'other'].includes(r.output.label)));
  });
});
