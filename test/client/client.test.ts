import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import {
  AuthenticationError,
  BatchEstimate,
  BatchList,
  BatchView,
  ConflictError,
  DroverClient,
  NotFoundError,
  ResultPage,
  ResultView,
  ValidationError,
  withSchema,
  type BatchView as BatchViewT,
  type ItemInput,
} from '../../client/index.js';
import { useStack } from '../helpers/stack.js';
import { sleep, until } from '../helpers/wait.js';

/**
 * The client against the real local stack: Temporal dev server, PostgreSQL, the provider
 * emulator, the API and a worker process. Nothing of Drover is mocked.
 */

const Review = z.object({
  label: z.enum(['positive', 'negative', 'neutral']),
  confidence: z.number().min(0).max(1),
  keywords: z.array(z.string()),
});

function reviews(n: number, prefix: string): ItemInput[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    content: `Review ${i}: the kettle boils fast, but the lid, sadly, rattles "a lot".`,
    metadata: { row: i },
  }));
}

/**
 * Keys the server sends that a response schema does not know: the schemas strip unknown keys,
 * so without this check a new or renamed server field would go unnoticed.
 */
function unknownKeys(schema: z.ZodType, value: unknown, path = '$'): string[] {
  if (value === null || value === undefined) return [];
  if (schema instanceof z.ZodNullable || schema instanceof z.ZodOptional) return unknownKeys(schema.unwrap() as z.ZodType, value, path);
  if (schema instanceof z.ZodArray && Array.isArray(value))
    return value.flatMap((v, i) => unknownKeys(schema.element as z.ZodType, v, `${path}[${i}]`));
  if (schema instanceof z.ZodObject && typeof value === 'object') {
    const shape = schema.shape as Record<string, z.ZodType>;
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
      const field = shape[k];
      return field ? unknownKeys(field, v, `${path}.${k}`) : [`${path}.${k}`];
    });
  }
  return [];
}

describe('DroverClient against the local stack', () => {
  const stack = useStack({ processingMs: 200, worker: true });
  let client: DroverClient;
  let tmp: string;
  let typedBatchId = '';

  before(async () => {
    client = new DroverClient({ baseUrl: stack.api.url, apiKey: stack.adminKey, retryBaseDelayMs: 50 });
    tmp = await mkdtemp(join(tmpdir(), 'drover-client-'));
  });
  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('submitAndWaitTyped: a 30-item batch with a zod schema comes back as typed rows', async () => {
    const seen: string[] = [];
    const { batch, rows } = await client.batches.submitAndWaitTyped(
      { model: 'gpt-4.1-mini', system_prompt: 'Label the review.', items: reviews(30, 'typed-') },
      Review,
      { name: 'review', pollMs: 200, timeoutMs: 30_000, onProgress: (b) => void seen.push(b.status) },
    );
    typedBatchId = batch.id;
    assert.equal(batch.status, 'completed', JSON.stringify(batch));
    assert.deepEqual(batch.counts, { total: 30, succeeded: 30, failed: 0, cancelled: 0, pending: 0 });
    assert.equal(seen.at(-1), 'completed', 'onProgress saw the final state');
    assert.equal(rows.length, 30);
    for (const row of rows) {
      assert.equal(row.status, 'succeeded');
      if (row.status !== 'succeeded') continue;
      // Typed: these lines only compile because output is z.output<typeof Review>.
      const label: 'positive' | 'negative' | 'neutral' = row.output.label;
      const keywords: string[] = row.output.keywords;
      assert.ok(['positive', 'negative', 'neutral'].includes(label));
      assert.ok(row.output.confidence >= 0 && row.output.confidence <= 1);
      assert.ok(Array.isArray(keywords));
      assert.ok(row.usage && row.usage.input_tokens > 0);
      assert.ok(row.cost_usd > 0);
    }
    assert.deepEqual(
      rows.map((r) => r.metadata?.row).sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: 30 }, (_, i) => i),
    );

    // withSchema made the response_format: strict (every field required), objects closed.
    const stored = await stack.db.query('SELECT spec FROM batches WHERE id = $1', [batch.id]);
    const rf = stored.rows[0].spec.response_format;
    assert.equal(rf.json_schema.name, 'review');
    assert.equal(rf.json_schema.strict, true);
    assert.equal(rf.json_schema.schema.additionalProperties, false);
    assert.equal(rf.json_schema.schema.$schema, undefined);
  });

  test('iterOutput yields every row exactly once, streamed from the JSONL export', async () => {
    assert.ok(typedBatchId, 'needs the batch of the first test');
    const ids: string[] = [];
    for await (const row of client.batches.iterOutput(typedBatchId)) ids.push(row.id);
    assert.equal(ids.length, 30);
    assert.equal(new Set(ids).size, 30);
    assert.deepEqual(new Set(ids), new Set(reviews(30, 'typed-').map((i) => i.id)));

    const failed: string[] = [];
    for await (const row of client.batches.iterOutput(typedBatchId, { status: 'failed' })) failed.push(row.id);
    assert.deepEqual(failed, []);

    // Breaking out early is fine (the stream is cancelled), and the page API agrees on totals.
    for await (const row of client.batches.iterOutput(typedBatchId)) {
      assert.ok(row.id);
      break;
    }
    const page = await client.batches.output(typedBatchId, { limit: 10, offset: 25 });
    assert.equal(page.total, 30);
    assert.equal(page.data.length, 5);
    assert.equal(page.offset, 25);
    const one = await client.batches.retrieveItem(typedBatchId, 'typed-7');
    assert.equal(one.id, 'typed-7');
    assert.equal(one.status, 'succeeded');
  });

  test('downloadOutput writes a CSV with a header and one line per item, and JSONL', async () => {
    const csvPath = join(tmp, 'out.csv');
    const { bytes } = await client.batches.downloadOutput(typedBatchId, { format: 'csv', path: csvPath });
    const csv = await readFile(csvPath, 'utf8');
    assert.equal(Buffer.byteLength(csv), bytes);
    const lines = csv.split('\r\n');
    assert.equal(lines.pop(), '', 'ends with a line break');
    // The JSON output is flattened into one column per field of the schema.
    assert.equal(
      lines[0],
      'id,status,output.label,output.confidence,output.keywords,error_code,error_message,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cost_usd,metadata',
    );
    assert.equal(lines.length, 31);
    assert.deepEqual(new Set(lines.slice(1).map((l) => l.split(',')[0])), new Set(reviews(30, 'typed-').map((i) => i.id)));
    assert.ok(lines.slice(1).every((l) => l.split(',')[1] === 'succeeded'));

    const jsonlPath = join(tmp, 'out.jsonl');
    await client.batches.downloadOutput(typedBatchId, { format: 'jsonl', path: jsonlPath });
    const rows = (await readFile(jsonlPath, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => ResultView.parse(JSON.parse(l)));
    assert.equal(rows.length, 30);
    assert.deepEqual(await readdir(tmp).then((f) => f.sort()), ['out.csv', 'out.jsonl'], 'no .partial file left behind');

    await assert.rejects(client.batches.downloadOutput('batch_missing', { format: 'csv', path: join(tmp, 'missing.csv') }), NotFoundError);
    assert.deepEqual(await readdir(tmp).then((f) => f.sort()), ['out.csv', 'out.jsonl']);
  });

  test('submitNdjson streams 500 items from an async generator; the client adds an idempotency key', async () => {
    let produced = 0;
    async function* items(): AsyncGenerator<ItemInput> {
      for (let i = 0; i < 500; i++) {
        produced++;
        if (i % 100 === 0) await sleep(1);
        yield { id: `nd-${i}`, content: `Ticket ${i}: the parcel arrived late.`, inputs: { n: i } };
      }
    }
    const shape = withSchema(z.object({ summary: z.string() }), { name: 'summary' });
    const batch = await client.batches.submitNdjson(
      {
        model: 'gpt-4.1-mini',
        user_prompt_template: 'Summarise ticket {n}: {content}',
        response_format: shape.response_format,
        metadata: { source: 'ndjson' },
        max_output_tokens: 50,
      },
      items(),
    );
    assert.equal(produced, 500);
    assert.equal(batch.counts.total, 500);
    assert.deepEqual(batch.metadata, { source: 'ndjson' });
    const stored = await stack.db.query('SELECT idempotency_key FROM batches WHERE id = $1', [batch.id]);
    assert.match(stored.rows[0].idempotency_key, /^drover-client-[0-9a-f-]{36}$/);

    const done = await client.batches.wait(batch.id, { pollMs: 200, timeoutMs: 30_000 });
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.counts.succeeded, 500);
    let n = 0;
    for await (const row of client.batches.iterOutput(batch.id)) {
      const typed = shape.parseRow(row);
      if (typed.status === 'succeeded') assert.equal(typeof typed.output.summary, 'string');
      n++;
    }
    assert.equal(n, 500);
  });

  test('completions, file uploads and validate', async () => {
    const done = await client.completions.classify({
      model: 'gpt-4.1-mini',
      categories: ['billing', 'shipping'],
      items: [{ content: 'charged twice' }, { content: 'late parcel' }],
    });
    assert.deepEqual(
      done.results.map((r) => r.id),
      ['0', '1'],
    );
    assert.ok(done.results.every((r) => ['billing', 'shipping'].includes((r.output as { label: string }).label)));

    const csvPath = join(await mkdtemp(join(tmpdir(), 'drover-upload-')), 'upload.csv');
    await writeFile(csvPath, 'id,content\na,"hello, world"\nb,bye\n');
    const file = await client.files.upload({ path: csvPath });
    assert.deepEqual([file.format, file.line_count, file.filename], ['csv', 2, 'upload.csv']);
    assert.equal((await client.files.retrieve(file.id)).id, file.id);
    const fromMemory = await client.files.upload({ data: '{"id":"x","content":"y"}\n', format: 'jsonl' });
    assert.equal(fromMemory.line_count, 1);

    const ok = await client.validate({ model: 'gpt-4.1-mini', input_file_id: file.id });
    assert.deepEqual([ok.valid, ok.item_count], [true, 2]);
    const bad = await client.validate({ model: 'gpt-4.1-mini', items: [{ id: 'a' }] });
    assert.equal(bad.valid, false);
    assert.equal(bad.issues[0]!.path, 'items[0].content');
  });

  test('batches.uploadFile, then an operation over the file with batches.submit; batches.validate names the line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-upload-'));
    const path = join(dir, 'tickets.jsonl');
    await writeFile(path, ['{"id":"t1","content":"I was charged twice"}', '{"id":"t2","content":"Where is my parcel?"}', ''].join('\n'));
    const file = await client.batches.uploadFile({ path });
    assert.deepEqual([file.format, file.line_count, file.filename], ['jsonl', 2, 'tickets.jsonl']);
    // Typed: operation fields and input_file_id compile on the body (BatchCreateParams).
    const batch = await client.batches.submitAndWait(
      { model: 'gpt-4.1-mini', operation: 'classify', categories: ['billing', 'shipping'], input_file_id: file.id },
      { pollMs: 200, timeoutMs: 30_000 },
    );
    assert.equal(batch.status, 'completed', JSON.stringify(batch));
    const page = await client.batches.output(batch.id);
    assert.deepEqual(page.data.map((r) => r.id).sort(), ['t1', 't2']);
    assert.ok(page.data.every((r) => ['billing', 'shipping'].includes((r.output as { label: string }).label)));

    const badPath = join(dir, 'bad.jsonl');
    await writeFile(badPath, '{"id":"a","content":"x"}\n{"id":"b","contnet":"y"}\n');
    const bad = await client.batches.validate({
      model: 'gpt-4.1-mini',
      input_file_id: (await client.batches.uploadFile({ path: badPath })).id,
    });
    assert.equal(bad.valid, false);
    assert.deepEqual(
      bad.issues.map((i) => i.line),
      [2],
    );
  });

  test('estimate prices a batch without storing it', async () => {
    const before = await stack.db.query('SELECT count(*)::int AS n FROM batches');
    const est = await client.batches.estimate({
      model: 'gpt-4.1-mini',
      system_prompt: 'Summarise.',
      items: reviews(50, 'est-'),
      chunk_size: 20,
      max_output_tokens: 64,
    });
    assert.equal(est.object, 'batch_estimate');
    assert.equal(est.item_count, 50);
    assert.equal(est.provider, 'openai');
    assert.deepEqual(
      est.chunks.plan.map((c) => c.items),
      [20, 20, 10],
    );
    assert.equal(est.output_tokens.max, 50 * 64);
    assert.ok(est.cost.low_usd > 0 && est.cost.low_usd <= est.cost.expected_usd && est.cost.expected_usd <= est.cost.high_usd);
    const viaNdjson = await client.batches.estimateNdjson(
      { model: 'gpt-4.1-mini', system_prompt: 'Summarise.', chunk_size: 20, max_output_tokens: 64 },
      reviews(50, 'est-'),
    );
    assert.deepEqual(viaNdjson, est);
    assert.deepEqual((await stack.db.query('SELECT count(*)::int AS n FROM batches')).rows, before.rows);
  });

  test('pause, setLimits, resume and cancel steer a running batch; a message to an ended one is a ConflictError', async () => {
    stack.emulator.setFaults({ processing_ms: 5000 });
    try {
      const created = await client.batches.submit({
        model: 'gpt-4.1-mini',
        mode: 'batch',
        items: reviews(40, 'ctl-'),
        chunk_size: 10,
        max_parallel_chunks: 1,
      });
      assert.equal(created.status, 'queued');
      await until(
        () => client.batches.retrieve(created.id),
        (b) => b.status === 'running' && (b.chunks?.running ?? 0) > 0,
      );

      const paused = await client.batches.pause(created.id);
      assert.equal(paused.status, 'paused');

      const limited = await client.batches.setLimits(created.id, { max_cost_usd: 25 });
      assert.equal(limited.cost.limit_usd, 25);
      const deadline = await client.batches.setLimits(created.id, { time_limit_seconds: 3600 });
      assert.ok(deadline.deadline && Date.parse(deadline.deadline) > Date.now() + 3_500_000, deadline.deadline ?? 'no deadline');
      const cleared = await client.batches.setLimits(created.id, { max_cost_usd: null, deadline: null });
      assert.equal(cleared.cost.limit_usd, null);
      assert.equal(cleared.deadline, null);
      const refused = await client.batches.setLimits(created.id, { deadline: new Date(Date.now() - 60_000) }).then(
        () => assert.fail('a past deadline is refused'),
        (e: unknown) => e,
      );
      assert.ok(refused instanceof ValidationError);
      assert.equal(refused.status, 400);
      assert.equal(refused.type, 'invalid_limits');
      assert.match(refused.message, /past/);

      const resumed = await client.batches.resume(created.id);
      assert.notEqual(resumed.status, 'paused');

      const cancelling = await client.batches.cancel(created.id);
      assert.ok(['cancelling', 'cancelled'].includes(cancelling.status), cancelling.status);
      const done = await client.batches.wait(created.id, { pollMs: 200, timeoutMs: 20_000 });
      assert.equal(done.status, 'cancelled');
      assert.equal(done.counts.pending, 0);

      const late = await client.batches.cancel(created.id).then(
        () => assert.fail('cancel of an ended batch'),
        (e: unknown) => e,
      );
      assert.ok(late instanceof ConflictError);
      assert.equal(late.status, 409);
      assert.equal(late.type, 'batch_ended');
      assert.ok(late.requestId);
      await assert.rejects(client.batches.pause(created.id), ConflictError);
      await assert.rejects(client.batches.setLimits(created.id, { max_cost_usd: 5 }), ConflictError);
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('keys: create, list and revoke through an admin key; a 401 or 403 is an AuthenticationError; DROVER_API_KEY is the default key', async () => {
    const created = await client.keys.create({ tenant: 'client-team', name: 'sdk', scopes: ['batches:read'] });
    assert.match(created.key, /^drv_/);
    const reader = new DroverClient({ baseUrl: stack.api.url, apiKey: created.key, maxRetries: 0 });
    assert.deepEqual((await reader.batches.list()).data, [], 'a new tenant has no batches');
    const denied = await reader.batches.cancel(typedBatchId).catch((e: unknown) => e);
    assert.ok(denied instanceof AuthenticationError && denied.status === 403 && denied.type === 'permission_error', String(denied));
    assert.deepEqual(
      (await client.keys.list({ tenant: 'client-team' })).data.map((k) => k.id),
      [created.id],
    );
    assert.ok((await client.keys.revoke(created.id)).revoked_at);
    await sleep(600); // the API's key cache
    const revoked = await reader.batches.list().catch((e: unknown) => e);
    assert.ok(revoked instanceof AuthenticationError && revoked.status === 401 && revoked.type === 'authentication_error', String(revoked));
    const saved = process.env.DROVER_API_KEY;
    process.env.DROVER_API_KEY = stack.adminKey;
    try {
      assert.equal((await new DroverClient({ baseUrl: stack.api.url }).batches.retrieve(typedBatchId)).id, typedBatchId);
    } finally {
      if (saved === undefined) delete process.env.DROVER_API_KEY;
      else process.env.DROVER_API_KEY = saved;
    }
  });

  test('errors are typed: NotFoundError, ValidationError with issues (JSON and NDJSON), ConflictError', async () => {
    const missing = await client.batches.retrieve('batch_doesnotexist').catch((e: unknown) => e);
    assert.ok(missing instanceof NotFoundError, String(missing));
    assert.equal(missing.status, 404);
    assert.equal(missing.type, 'not_found');
    assert.ok(missing.requestId);

    const bad = await client.batches
      .submit({
        model: 'gpt-4.1-mini',
        chunk_size: 0,
        items: [
          { id: 'a', content: 'x' },
          { id: 'a', content: 'y' },
        ],
      })
      .catch((e: unknown) => e);
    assert.ok(bad instanceof ValidationError, String(bad));
    assert.equal(bad.status, 400);
    assert.equal(bad.type, 'invalid_request');
    const paths = (bad.issues ?? []).map((i) => i.path);
    assert.ok(paths.includes('chunk_size'), JSON.stringify(bad.issues));
    assert.ok(
      paths.some((p) => p.startsWith('items[1]')),
      JSON.stringify(bad.issues),
    );

    const badLines = await client.batches
      .submitNdjson({ model: 'gpt-4.1-mini' }, [
        { id: 'a', content: 'x' },
        { id: 'a', content: 'y' },
      ])
      .catch((e: unknown) => e);
    assert.ok(badLines instanceof ValidationError, String(badLines));
    assert.equal(badLines.issues?.[0]?.line, 2);
    assert.match(badLines.issues?.[0]?.message ?? '', /duplicate id/);

    // Settings refused before the body is read: the 400 still arrives while items are streaming.
    async function* many(): AsyncGenerator<ItemInput> {
      for (let i = 0; i < 20_000; i++) yield { id: `m${i}`, content: 'x'.repeat(100) };
    }
    const early = await client.batches.submitNdjson({ model: 'gpt-4.1-mini', chunk_size: 0 }, many()).catch((e: unknown) => e);
    assert.ok(early instanceof ValidationError, String(early));
    assert.ok(
      early.issues?.some((i) => i.path === 'chunk_size'),
      JSON.stringify(early.issues),
    );

    const ended = await client.batches.cancel(typedBatchId).catch((e: unknown) => e);
    assert.ok(ended instanceof ConflictError, String(ended));
    assert.equal(ended.type, 'batch_ended');
  });

  test('list pages through batches, filtered by status and model', async () => {
    const completed = await until(
      () => client.batches.list({ status: 'completed', limit: 100 }),
      (p) => p.data.some((b) => b.id === typedBatchId),
    );
    assert.ok(completed.data.every((b) => b.status === 'completed'));
    const first = await client.batches.list({ limit: 1 });
    assert.equal(first.data.length, 1);
    assert.ok(first.next_cursor);
    const all: BatchViewT[] = [];
    for await (const b of client.batches.listAll({ limit: 1, created_after: new Date(Date.now() - 3_600_000) })) all.push(b);
    assert.ok(all.length >= 3, `${all.length} batches`);
    assert.equal(new Set(all.map((b) => b.id)).size, all.length, 'no batch twice across pages');
    const none = await client.batches.list({ model: 'gpt-unheard-of' });
    assert.deepEqual(none.data, []);
  });

  test('the response schemas cover every field the server sends', async () => {
    const raw = async (path: string, init?: RequestInit) =>
      (await fetch(stack.api.url + path, { ...init, headers: { ...stack.auth, ...(init?.headers as Record<string, string>) } })).json();
    const batch = await raw(`/v1/batches/${typedBatchId}`);
    assert.deepEqual(unknownKeys(BatchView, batch), []);
    assert.deepEqual(unknownKeys(ResultPage, await raw(`/v1/batches/${typedBatchId}/results?limit=5`)), []);
    assert.deepEqual(unknownKeys(BatchList, await raw('/v1/batches?limit=5')), []);
    const est = await raw('/v1/batches/estimate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1-mini', items: reviews(2, 'k') }),
    });
    assert.deepEqual(unknownKeys(BatchEstimate, est), []);
    BatchView.parse(batch);
    BatchEstimate.parse(est);
  });
});
