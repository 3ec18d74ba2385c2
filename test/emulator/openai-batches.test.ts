/** The Files and Batch APIs through the official SDK, against a real emulator over HTTP. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { NotFoundError, RateLimitError, BadRequestError, toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import {
  chatLine,
  createBatch,
  makeAjv,
  PERSON_SCHEMA,
  readJsonl,
  sdkClient,
  textLines,
  uploadJsonl,
  waitForBatch,
  type InputLine,
} from './helpers.js';

const schemaFormat = { type: 'json_schema', json_schema: { name: 'person', schema: PERSON_SCHEMA, strict: true } };
const schemaLines = (n: number, prefix = 'p'): InputLine[] =>
  Array.from({ length: n }, (_, i) =>
    chatLine(`${prefix}-${i}`, {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Extract the person.' },
        { role: 'user', content: `Record ${i}: someone aged ${20 + i}` },
      ],
      response_format: schemaFormat,
    }),
  );

describe('OpenAI Files and Batches', () => {
  let emulator: Emulator;
  let client: ReturnType<typeof sdkClient>;

  before(async () => {
    emulator = await startEmulator({ processingMs: 100 });
    client = sdkClient(emulator.openaiBaseURL);
  });
  after(async () => emulator.close());
  beforeEach(() => emulator.reset());

  it('uploads, runs and downloads a batch whose outputs conform to the schema', async () => {
    const lines = schemaLines(20);
    const input_file_id = await uploadJsonl(client, lines);
    const file = await client.files.retrieve(input_file_id);
    assert.equal(file.object, 'file');
    assert.equal(file.purpose, 'batch');
    assert.equal(file.filename, 'in.jsonl');
    assert.equal(file.status, 'processed');
    assert.ok(file.bytes > 0 && typeof file.created_at === 'number');

    const created = await client.batches.create({
      input_file_id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { drover_key: 'job-1', purpose: 'conformance' },
    });
    assert.equal(created.status, 'validating');
    assert.equal(created.object, 'batch');
    assert.match(created.id, /^batch_/);
    assert.deepEqual(created.metadata, { drover_key: 'job-1', purpose: 'conformance' });
    assert.equal(created.expires_at, created.created_at + 24 * 3600);

    const done = await waitForBatch(client, created.id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.request_counts, { total: 20, completed: 20, failed: 0 });
    assert.equal(done.model, 'gpt-4o-mini');
    assert.equal(done.error_file_id, null);
    assert.ok(
      done.in_progress_at! >= done.created_at && done.finalizing_at! >= done.in_progress_at! && done.completed_at! >= done.finalizing_at!,
    );

    const outFile = await client.files.retrieve(done.output_file_id!);
    assert.equal(outFile.purpose, 'batch_output');
    const out = await readJsonl(client, done.output_file_id);
    assert.equal(out.length, 20);
    assert.deepEqual(new Set(out.map((l) => l.custom_id)), new Set(lines.map((l) => l.custom_id)));
    const validate = makeAjv().compile(PERSON_SCHEMA);
    let inputTokens = 0;
    let outputTokens = 0;
    for (const line of out) {
      assert.match(line.id, /^batch_req_/);
      assert.equal(line.error, null);
      assert.equal(line.response?.status_code, 200);
      assert.match(line.response!.request_id, /^req_/);
      const completion = line.response!.body;
      assert.equal(completion.object, 'chat.completion');
      assert.equal(completion.choices[0]!.finish_reason, 'stop');
      assert.equal(completion.choices[0]!.message.role, 'assistant');
      const parsed: unknown = JSON.parse(completion.choices[0]!.message.content!);
      assert.ok(validate(parsed), JSON.stringify(validate.errors));
      inputTokens += completion.usage!.prompt_tokens;
      outputTokens += completion.usage!.completion_tokens;
    }
    assert.equal(done.usage?.input_tokens, inputTokens);
    assert.equal(done.usage?.output_tokens, outputTokens);
    assert.equal(done.usage?.total_tokens, inputTokens + outputTokens);

    // The same body through the realtime endpoint gives the same content.
    const first = lines[0]!;
    const realtime = await client.chat.completions.create(first.body as never);
    const batched = out.find((l) => l.custom_id === first.custom_id)!;
    assert.equal(realtime.choices[0]!.message.content, batched.response!.body.choices[0]!.message.content);

    const stats = emulator.stats();
    assert.equal(stats.files_uploaded, 1);
    assert.equal(stats.batches_created, 1);
    assert.equal(stats.lines_received, 20);
    assert.deepEqual(stats.batches_by_metadata, { 'job-1': 1 });
    assert.equal(stats.requests['POST /v1/files'], 1);
    assert.equal(stats.requests['POST /v1/batches'], 1);
    assert.ok((stats.requests['GET /v1/batches/:id'] ?? 0) >= 1);
    assert.equal(stats.requests['GET /v1/files/:id/content'], 1);
  });

  it('completes by the next retrieve when processingMs is 0', async () => {
    emulator.setFaults({ processing_ms: 0 });
    const created = await createBatch(client, textLines(3));
    const batch = await client.batches.retrieve(created.id);
    assert.equal(batch.status, 'completed');
    const out = await readJsonl(client, batch.output_file_id);
    assert.match(out[0]!.response!.body.choices[0]!.message.content!, /^Echo: Question number \d$/);
  });

  it('paginates the batch list newest first with the SDK auto-pager', async () => {
    emulator.setFaults({ processing_ms: 0 });
    const input_file_id = await uploadJsonl(client, textLines(1));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const b = await client.batches.create({
        input_file_id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        metadata: { drover_key: i < 3 ? 'a' : 'b' },
      });
      ids.push(b.id);
    }
    const firstPage = await client.batches.list({ limit: 2 });
    assert.equal(firstPage.data.length, 2);
    assert.equal(firstPage.has_more, true);
    const seen: Batch[] = [];
    for await (const b of client.batches.list({ limit: 2 })) seen.push(b);
    assert.deepEqual(
      seen.map((b) => b.id),
      [...ids].reverse(),
    );
    assert.ok(seen.every((b) => b.status === 'completed'));
    assert.equal(emulator.stats().requests['GET /v1/batches'], 1 + 3);
    assert.deepEqual(emulator.stats().batches_by_metadata, { a: 3, b: 2 });
  });

  it('lists, filters and deletes files; streams uploads from disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-emulator-'));
    try {
      const path = join(dir, 'from-disk.jsonl');
      await writeFile(
        path,
        textLines(4)
          .map((l) => JSON.stringify(l))
          .join('\n'),
      );
      // A ReadStream goes through the SDK's own streaming multipart encoder, not FormData.
      const streamed = await client.files.create({ file: createReadStream(path), purpose: 'batch' });
      assert.equal(streamed.filename, 'from-disk.jsonl');
      const other = await client.files.create({ file: await toFile(Buffer.from('{}'), 'notes "quoted".json'), purpose: 'user_data' });
      assert.equal(other.filename, 'notes "quoted".json');
      assert.equal(other.expires_at, null);
      const expiring = await client.files.create({
        file: await toFile(Buffer.from('{}\n'), 'short.jsonl'),
        purpose: 'batch',
        expires_after: { anchor: 'created_at', seconds: 3600 },
      });
      assert.equal(expiring.expires_at, expiring.created_at + 3600);
      assert.equal(
        await (await client.files.content(streamed.id)).text(),
        textLines(4)
          .map((l) => JSON.stringify(l))
          .join('\n'),
      );

      const batchFiles: string[] = [];
      for await (const f of client.files.list({ purpose: 'batch' })) batchFiles.push(f.id);
      assert.deepEqual(batchFiles, [expiring.id, streamed.id]);
      const deleted = await client.files.delete(other.id);
      assert.deepEqual(deleted, { id: other.id, object: 'file', deleted: true });
      await assert.rejects(client.files.retrieve(other.id), NotFoundError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes a batch file sent without an extension (Python SDK raw bytes) and refuses a wrong one', async () => {
    const text = textLines(3)
      .map((l) => JSON.stringify(l))
      .join('\n');
    // openai-python names bytes `upload` (httpx's default); Bespoke Curator uploads its batches so.
    const bare = await client.files.create({ file: await toFile(Buffer.from(text), 'upload'), purpose: 'batch' });
    assert.equal(bare.filename, 'upload');
    const batch = await client.batches.create({ input_file_id: bare.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    assert.equal((await waitForBatch(client, batch.id)).request_counts?.completed, 3);
    const refused = await client.files.create({ file: await toFile(Buffer.from(text), 'notes.txt'), purpose: 'batch' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(refused instanceof BadRequestError);
    assert.equal(refused.code, 'invalid_file_format');
  });

  it('cancels mid-processing: partial output plus batch_cancelled errors', async () => {
    emulator.setFaults({ processing_ms: 1000 });
    const lines = textLines(100);
    const created = await createBatch(client, lines);
    await waitForBatch(client, created.id, new Set(['in_progress']));
    await new Promise((r) => setTimeout(r, 400));
    const cancelling = await client.batches.cancel(created.id);
    assert.equal(cancelling.status, 'cancelling');
    assert.ok(cancelling.cancelling_at);
    const done = await waitForBatch(client, created.id);
    assert.equal(done.status, 'cancelled');
    assert.ok(done.cancelled_at! >= done.cancelling_at!);

    const out = await readJsonl(client, done.output_file_id);
    const errors = await readJsonl(client, done.error_file_id);
    assert.ok(out.length > 10 && out.length < 90, `expected partial output, got ${out.length}`);
    assert.equal(out.length + errors.length, 100);
    assert.equal(done.request_counts?.completed, out.length);
    for (const e of errors) {
      assert.equal(e.response, null);
      assert.equal(e.error?.code, 'batch_cancelled');
    }
    assert.deepEqual(new Set([...out, ...errors].map((l) => l.custom_id)), new Set(lines.map((l) => l.custom_id)));
    // Cancelling again is harmless; a finished batch cannot be cancelled.
    assert.equal((await client.batches.cancel(created.id)).status, 'cancelled');
    assert.equal(emulator.stats().batch_cancels, 1);
    emulator.setFaults({ processing_ms: 0 });
    const finished = await createBatch(client, textLines(1));
    await waitForBatch(client, finished.id);
    await assert.rejects(client.batches.cancel(finished.id), BadRequestError);
  });

  it('fails validation with line numbers for bad lines', async () => {
    emulator.setFaults({ processing_ms: 0 });
    const good = textLines(4);
    const created = await createBatch(client, [
      good[0]!,
      good[1]!,
      '{"custom_id": "broken", ',
      { ...good[2]!, url: '/v1/embeddings' } as unknown as InputLine,
      { ...good[3]!, custom_id: good[0]!.custom_id },
      { method: 'POST', url: '/v1/chat/completions', body: {} } as unknown as InputLine,
    ]);
    const failed = await waitForBatch(client, created.id);
    assert.equal(failed.status, 'failed');
    assert.ok(failed.failed_at);
    assert.equal(failed.output_file_id, null);
    const errors = failed.errors?.data ?? [];
    assert.deepEqual(
      errors.map((e) => [e.line, e.code]),
      [
        [3, 'invalid_json_line'],
        [4, 'invalid_url'],
        [5, 'duplicate_custom_id'],
        [6, 'missing_required_parameter'],
      ],
    );
    assert.equal(failed.errors?.object, 'list');
  });

  it('fails a batch of more than 50,000 lines', async () => {
    emulator.setFaults({ processing_ms: 0 });
    const created = await createBatch(
      client,
      Array.from({ length: 50_001 }, () => '{}'),
    );
    const failed = await waitForBatch(client, created.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.errors?.data?.[0]?.code, 'too_many_requests');
    assert.equal(emulator.stats().lines_received, 50_001);
  });

  it('rejects bad create bodies and unknown ids with OpenAI errors', async () => {
    const err = await client.batches.retrieve('batch_missing').catch((e: unknown) => e);
    assert.ok(err instanceof NotFoundError);
    assert.equal(err.status, 404);
    assert.equal(err.type, 'invalid_request_error');
    assert.match(err.requestID ?? '', /^req_/);
    await assert.rejects(client.files.content('file-missing'), NotFoundError);
    await assert.rejects(
      client.batches.create({ input_file_id: 'file-missing', endpoint: '/v1/chat/completions', completion_window: '24h' }),
      NotFoundError,
    );
    const input_file_id = await uploadJsonl(client, textLines(1));
    const bad = (extra: Record<string, unknown>) =>
      client.batches.create({ input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h', ...extra } as never);
    await assert.rejects(
      bad({ completion_window: '48h' }),
      (e: unknown) => e instanceof BadRequestError && e.param === 'completion_window',
    );
    await assert.rejects(bad({ endpoint: '/v1/nope' }), (e: unknown) => e instanceof BadRequestError && e.param === 'endpoint');
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    await assert.rejects(bad({ metadata: tooMany }), (e: unknown) => e instanceof BadRequestError && e.param === 'metadata');
    const notBatch = await client.files.create({ file: await toFile(Buffer.from('x'), 'x.txt'), purpose: 'user_data' });
    await assert.rejects(bad({ input_file_id: notBatch.id }), BadRequestError);
    await assert.rejects(client.files.create({ file: await toFile(Buffer.from('x'), 'x.csv'), purpose: 'batch' }), BadRequestError);
  });

  it('surfaces a 429 with retry-after as RateLimitError, and the SDK honours it when retrying', async () => {
    emulator.setFaults({ http: [{ path: '/v1/batches', method: 'GET', status: 429, count: 1, retry_after_s: 3 }] });
    const err = await client.batches.list().catch((e: unknown) => e);
    assert.ok(err instanceof RateLimitError);
    assert.equal(err.headers.get('retry-after'), '3');
    assert.equal(err.headers.get('retry-after-ms'), '3000');
    assert.equal(err.code, 'rate_limit_exceeded');
    await client.batches.list(); // the fault was used up

    emulator.setFaults({ http: [{ path: '/v1/files', status: 503, count: 1, retry_after_s: 0.05 }] });
    const retrying = sdkClient(emulator.openaiBaseURL, 1);
    const started = Date.now();
    await uploadJsonl(retrying, textLines(1));
    assert.ok(Date.now() - started >= 40);
    const stats = emulator.stats();
    assert.equal(stats.requests['POST /v1/files'], 2);
    assert.equal(stats.faults_injected.http, 2);
    assert.equal(stats.files_uploaded, 1);
  });

  it('line_errors fail every Nth line once, so resubmitting the failed lines succeeds', async () => {
    emulator.setFaults({ line_errors: { every: 2 }, processing_ms: 0 });
    const lines = textLines(12);
    const first = await waitForBatch(client, (await createBatch(client, lines)).id);
    assert.equal(first.status, 'completed');
    assert.deepEqual(first.request_counts, { total: 12, completed: 6, failed: 6 });
    const errors = await readJsonl(client, first.error_file_id);
    assert.equal(errors.length, 6);
    for (const e of errors) {
      assert.equal(e.error, null);
      assert.equal(e.response?.status_code, 500);
      assert.equal(e.response?.body.error?.type, 'server_error');
    }
    const failedIds = new Set(errors.map((e) => e.custom_id));
    const retry = await waitForBatch(
      client,
      (
        await createBatch(
          client,
          lines.filter((l) => failedIds.has(l.custom_id)),
        )
      ).id,
    );
    assert.deepEqual(retry.request_counts, { total: 6, completed: 6, failed: 0 });
    assert.equal(retry.error_file_id, null);
    assert.equal(emulator.stats().faults_injected.line_errors, 6);

    emulator.setFaults({ line_errors: { every: 1, status: 429, once: false }, processing_ms: 0 });
    const again = await waitForBatch(client, (await createBatch(client, lines.slice(0, 2))).id);
    const again2 = await waitForBatch(client, (await createBatch(client, lines.slice(0, 2))).id);
    assert.equal(again.request_counts?.failed, 2);
    assert.equal(again2.request_counts?.failed, 2);
    assert.equal(again2.output_file_id, null);
    assert.equal((await readJsonl(client, again2.error_file_id))[0]?.response?.status_code, 429);
  });

  it('batch_expire expires part-way with batch_expired errors; batch_fail fails at validation', async () => {
    emulator.setFaults({ batch_expire: { count: 1, after_fraction: 0.5 }, batch_fail: { count: 1 } });
    const failing = await createBatch(client, textLines(4));
    const expiring = await createBatch(client, textLines(10));
    const normal = await createBatch(client, textLines(2));

    const failed = await waitForBatch(client, failing.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.errors?.data?.[0]?.code, 'token_limit_exceeded');

    const expired = await waitForBatch(client, expiring.id);
    assert.equal(expired.status, 'expired');
    assert.ok(expired.expired_at);
    const out = await readJsonl(client, expired.output_file_id);
    const errors = await readJsonl(client, expired.error_file_id);
    assert.equal(out.length, 5);
    assert.equal(errors.length, 5);
    assert.ok(errors.every((e) => e.response === null && e.error?.code === 'batch_expired'));

    assert.equal((await waitForBatch(client, normal.id)).status, 'completed');
    const injected = emulator.stats().faults_injected;
    assert.equal(injected.batch_expire, 1);
    assert.equal(injected.batch_fail, 1);
  });

  it('malformed_json truncates every Nth JSON answer', async () => {
    emulator.setFaults({ malformed_json: { every: 3 }, processing_ms: 0 });
    const done = await waitForBatch(client, (await createBatch(client, schemaLines(9))).id);
    const out = await readJsonl(client, done.output_file_id);
    const broken = out.filter((l) => {
      try {
        JSON.parse(l.response!.body.choices[0]!.message.content!);
        return false;
      } catch {
        return true;
      }
    });
    assert.deepEqual(broken.map((l) => l.custom_id).sort(), ['p-2', 'p-5', 'p-8']);
    assert.equal(emulator.stats().faults_injected.malformed_json, 3);
  });
});
