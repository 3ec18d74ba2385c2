/** Admin routes, auth and the in-process control API. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ZodError } from 'zod';
import { startEmulator, type Emulator, type EmulatorStats } from '../../emulator/index.js';
import { createBatch, sdkClient, textLines, waitForBatch } from './helpers.js';

const SECRET = 'sk-secret-do-not-echo';

describe('emulator admin and auth', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator({ processingMs: 0 });
  });
  after(async () => emulator.close());
  beforeEach(() => emulator.reset());

  it('serves health, stats, faults and reset over HTTP', async () => {
    const health = await fetch(`${emulator.url}/_emulator/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });

    const put = await fetch(`${emulator.url}/_emulator/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ http: [{ path: '/v1/files', status: 502, count: 1 }], line_errors: { every: 3 } }),
    });
    assert.equal(put.status, 200);
    assert.deepEqual(await put.json(), { http: [{ path: '/v1/files', status: 502, count: 1 }], line_errors: { every: 3 } });

    const client = sdkClient(emulator.openaiBaseURL);
    await assert.rejects(createBatch(client, textLines(3)), { status: 502 });
    const batch = await waitForBatch(client, (await createBatch(client, textLines(3), { drover_key: 'k' })).id);
    assert.equal(batch.request_counts?.failed, 1);

    const stats = (await (await fetch(`${emulator.url}/_emulator/stats`)).json()) as EmulatorStats;
    assert.deepEqual(stats, emulator.stats());
    assert.equal(stats.requests['POST /v1/files'], 2);
    assert.equal(stats.faults_injected.http, 1);
    assert.equal(stats.faults_injected.line_errors, 1);
    assert.deepEqual(stats.batches_by_metadata, { k: 1 });

    const reset = await fetch(`${emulator.url}/_emulator/reset`, { method: 'POST' });
    assert.equal(reset.status, 204);
    assert.equal(emulator.stats().batches_created, 0);
    assert.deepEqual(emulator.stats().requests, {});
    await assert.rejects(client.batches.retrieve(batch.id), { status: 404 });
    assert.deepEqual(await (await fetch(`${emulator.url}/_emulator/faults`)).json(), {});
  });

  it('rejects an invalid fault config with zod issues, over HTTP and in process', async () => {
    const res = await fetch(`${emulator.url}/_emulator/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ http: [{ status: 418, count: 1 }], typo_field: true }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { message: string }; issues: Array<{ path: unknown[] }> };
    assert.match(body.error.message, /Invalid fault config/);
    assert.deepEqual(
      body.issues.map((i) => i.path),
      [['http', 0, 'status'], []],
    );
    const notJson = await fetch(`${emulator.url}/_emulator/faults`, { method: 'PUT', body: '{nope' });
    assert.equal(notJson.status, 400);
    assert.throws(() => emulator.setFaults({ line_errors: { every: 0 } }), ZodError);
  });

  it('requires a bearer token on /v1 and never echoes it', async () => {
    const missing = await fetch(`${emulator.openaiBaseURL}/batches`);
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get('x-request-id') ?? '', /^req_/);
    const body = (await missing.json()) as { error: { type: string; message: string } };
    assert.equal(body.error.type, 'invalid_request_error');
    const basic = await fetch(`${emulator.openaiBaseURL}/batches`, { headers: { authorization: `Basic ${SECRET}` } });
    assert.equal(basic.status, 401);
    assert.ok(!(await basic.text()).includes(SECRET));

    const withKey = await fetch(`${emulator.openaiBaseURL}/batches/batch_nope`, { headers: { authorization: `Bearer ${SECRET}` } });
    assert.equal(withKey.status, 404);
    assert.ok(!(await withKey.text()).includes(SECRET));
    assert.ok(!JSON.stringify(emulator.stats()).includes(SECRET));
    assert.equal(emulator.stats().requests['GET /v1/batches'], 2);
  });

  it('answers unknown routes with OpenAI-style 404s', async () => {
    const res = await fetch(`${emulator.openaiBaseURL}/nowhere`, { headers: { authorization: 'Bearer x' } });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: { message: 'Invalid URL (GET /v1/nowhere)', type: 'invalid_request_error', param: null, code: null } });
    assert.equal(emulator.stats().requests['GET *'], 1);
  });
});
