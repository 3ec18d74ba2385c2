/** Admin routes, auth and the in-process control API. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ZodError } from 'zod';
import { startEmulator, type Emulator, type EmulatorStats } from '../../emulator/index.js';
import { anthropicClient, createBatch, geminiClient, sdkClient, textLines, uploadJsonl, waitForBatch } from './helpers.js';

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
    assert.deepEqual(await res.json(), {
      error: { message: 'Invalid URL (GET /v1/nowhere)', type: 'invalid_request_error', param: null, code: null },
    });
    assert.equal(emulator.stats().requests['GET *'], 1);
  });

  it('counts batches per x-drover-key across providers, and per metadata.drover_key for OpenAI', async () => {
    const openai = sdkClient(emulator.openaiBaseURL);
    const input_file_id = await uploadJsonl(openai, textLines(1));
    const create = (metadata: Record<string, string> | undefined, key: string | undefined) =>
      openai.batches.create(
        { input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h', ...(metadata ? { metadata } : {}) },
        key ? { headers: { 'x-drover-key': key } } : {},
      );
    await create({ drover_key: 'same' }, 'same');
    await create({ drover_key: 'meta' }, 'header');
    await create(undefined, 'header');
    await anthropicClient(emulator.anthropicBaseURL).messages.batches.create(
      { requests: [{ custom_id: 'a', params: { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] } }] },
      { headers: { 'x-drover-key': 'header' } },
    );
    await geminiClient(emulator.geminiBaseUrl).batches.create({
      model: 'gemini-2.5-flash',
      src: [{ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }],
      config: { httpOptions: { headers: { 'x-drover-key': 'gemini' } } },
    });
    const stats = emulator.stats();
    assert.deepEqual(stats.batches_by_key, { same: 1, meta: 1, header: 3, gemini: 1 });
    assert.deepEqual(stats.batches_by_metadata, { same: 1, meta: 1 });
  });

  it('accepts a rate_limit fault config over HTTP and rejects a bad one', async () => {
    const put = (body: unknown) =>
      fetch(`${emulator.url}/_emulator/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const ok = await put({ rate_limit: { rpm: 600, tpm: 100_000, scope: 'global' } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { rate_limit: { rpm: 600, tpm: 100_000, scope: 'global' } });
    assert.equal((await put({ rate_limit: { rpm: 0 } })).status, 400);
    assert.equal((await put({ rate_limit: { rpm: 10, scope: 'tenant' } })).status, 400);
  });
});
