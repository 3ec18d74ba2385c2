import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type TestStack, useStack, type WorkerProcess } from '../helpers/stack.js';

const SCHEMA = {
  type: 'object',
  properties: { topic: { type: 'string', enum: ['billing', 'shipping', 'other'] }, urgent: { type: 'boolean' } },
  required: ['topic', 'urgent'],
  additionalProperties: false,
};
const schemaFormat = { type: 'json_schema', json_schema: { name: 'triage', schema: SCHEMA, strict: true } };

function items(n: number, prefix: string) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    content: `Ticket ${i}: my parcel has not arrived and I was charged twice.`,
  }));
}

async function results(stack: TestStack, id: string): Promise<any[]> {
  return (await stack.get(`/v1/batches/${id}/results?limit=1000`)).body.data;
}

describe('realtime mode, every provider', () => {
  const stack = useStack({ processingMs: 200 });
  let worker: WorkerProcess;
  before(async () => {
    // Drover's own limit for one model; the other models rely on the provider's 429s alone.
    worker = await stack.startWorker({
      DROVER_RATE_LIMITS: JSON.stringify({ 'openai/gpt-4o-mini': { rpm: 600 } }),
      DROVER_REALTIME_CONCURRENCY: '8',
    });
  });

  test('mode realtime: one call per item, schema-valid outputs, billed at the full price', async () => {
    const before = stack.emulator.stats();
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'realtime',
      items: items(30, 'rt'),
      response_format: schemaFormat,
    });
    assert.equal(created.status, 202, created.text);
    const done = await stack.waitForBatch(created.body.id);
    assert.equal(done.status, 'completed');
    const rows = await results(stack, created.body.id);
    assert.equal(rows.length, 30);
    for (const r of rows) {
      assert.equal(r.path, 'realtime');
      assert.ok(['billing', 'shipping', 'other'].includes(r.output.topic));
    }
    const after = stack.emulator.stats();
    assert.equal(after.chat_completions - before.chat_completions, 30);
    assert.equal(after.batches_created, before.batches_created, 'no provider batch');
    // gpt-4.1-mini: $0.40 / $1.60 per million tokens, no batch discount in realtime.
    const expected = (done.usage.input_tokens * 0.4 + done.usage.output_tokens * 1.6) / 1e6;
    assert.ok(Math.abs(done.cost.spent_usd - expected) < 1e-6, `${done.cost.spent_usd} vs ${expected}`);
  });

  test('mode auto: large chunks go through the batch API, small ones realtime; each result records its path', async () => {
    const created = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', items: items(120, 'auto'), chunk_size: 100 });
    const done = await stack.waitForBatch(created.body.id);
    assert.equal(done.status, 'completed');
    const rows = await results(stack, created.body.id);
    const paths = rows.reduce((acc: Record<string, number>, r: any) => ({ ...acc, [r.path]: (acc[r.path] ?? 0) + 1 }), {});
    assert.deepEqual(paths, { batch: 100, realtime: 20 });
  });

  test('an OpenAI-compatible server (no batch API) runs every item realtime', async () => {
    const created = await stack.post('/v1/batches', {
      model: 'openai_compatible/llama-3.1-8b',
      items: items(12, 'oc'),
      prices: { input_per_mtok: 0, output_per_mtok: 0 },
      mode: 'batch',
    });
    assert.equal(created.status, 202, created.text);
    const done = await stack.waitForBatch(created.body.id);
    assert.equal(done.status, 'completed');
    assert.ok((await results(stack, created.body.id)).every((r) => r.path === 'realtime'));
  });

  test('Anthropic: native batch with tool-use structured output, and realtime', async () => {
    const before = stack.emulator.stats().anthropic.batches_created;
    const batch = await stack.post('/v1/batches', {
      model: 'claude-haiku-4-5',
      mode: 'batch',
      items: items(25, 'an'),
      response_format: schemaFormat,
      max_output_tokens: 200,
    });
    assert.equal(batch.status, 202, batch.text);
    const rt = await stack.post('/v1/batches', {
      model: 'anthropic/claude-haiku-4-5',
      mode: 'realtime',
      items: items(5, 'ar'),
      response_format: schemaFormat,
      max_output_tokens: 200,
    });
    for (const [created, path] of [
      [batch, 'batch'],
      [rt, 'realtime'],
    ] as const) {
      const done = await stack.waitForBatch(created.body.id);
      assert.equal(done.status, 'completed', JSON.stringify(done));
      for (const r of await results(stack, created.body.id)) {
        assert.equal(r.path, path);
        assert.ok(['billing', 'shipping', 'other'].includes(r.output.topic), JSON.stringify(r));
        assert.ok(r.cost_usd > 0);
      }
    }
    assert.equal(stack.emulator.stats().anthropic.batches_created - before, 1);
  });

  test('Gemini: native batch with responseJsonSchema, and realtime', async () => {
    const before = stack.emulator.stats().gemini.batches_created;
    const batch = await stack.post('/v1/batches', {
      model: 'gemini-2.5-flash',
      mode: 'batch',
      items: items(25, 'gm'),
      response_format: schemaFormat,
    });
    assert.equal(batch.status, 202, batch.text);
    const rt = await stack.post('/v1/batches', {
      model: 'gemini/gemini-2.5-flash',
      mode: 'realtime',
      items: items(5, 'gr'),
      response_format: schemaFormat,
    });
    for (const [created, path] of [
      [batch, 'batch'],
      [rt, 'realtime'],
    ] as const) {
      const done = await stack.waitForBatch(created.body.id);
      assert.equal(done.status, 'completed', JSON.stringify(done));
      for (const r of await results(stack, created.body.id)) {
        assert.equal(r.path, path);
        assert.ok(['billing', 'shipping', 'other'].includes(r.output.topic), JSON.stringify(r));
      }
    }
    assert.equal(stack.emulator.stats().gemini.batches_created - before, 1);
  });

  test('images and documents go with each item; Anthropic citations come back with the results', async () => {
    // A 1×1 PNG and a small text document.
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    const doc = 'The parcel left the depot on Monday. It was delivered to the wrong address on Thursday. The customer was refunded.';
    const created = await stack.post('/v1/batches', {
      model: 'claude-haiku-4-5',
      mode: 'realtime',
      enable_citations: true,
      user_prompt_template: 'What happened to the parcel? {content}',
      items: [
        {
          id: 'doc',
          content: 'Answer from the document.',
          attachments: [{ type: 'document', media_type: 'text/plain', text: doc, title: 'Ticket 7' }],
        },
        { id: 'img', content: 'Describe the photo.', attachments: [{ type: 'image', data: png, media_type: 'image/png' }] },
      ],
    });
    assert.equal(created.status, 202, created.text);
    const done = await stack.waitForBatch(created.body.id);
    assert.equal(done.status, 'completed');
    const withDoc = (await stack.get(`/v1/batches/${created.body.id}/items/doc`)).body;
    assert.ok(withDoc.citations?.length > 0, JSON.stringify(withDoc));
    for (const c of withDoc.citations) assert.ok(doc.includes(c.cited_text), `cites a real substring: ${c.cited_text}`);
    assert.equal((await stack.get(`/v1/batches/${created.body.id}/items/img`)).body.status, 'succeeded');

    const openaiImage = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'batch',
      items: [{ id: 'i', content: 'Describe.', attachments: [{ type: 'image', url: 'https://example.com/a.png' }] }],
    });
    assert.equal((await stack.waitForBatch(openaiImage.body.id)).status, 'completed');
  });

  test('media limits are checked at submit, per provider', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024, 1).toString('base64');
    const tooBig = await stack.post('/v1/batches', {
      model: 'claude-haiku-4-5',
      items: [{ id: 'x', content: 'see', attachments: [{ type: 'image', data: big, media_type: 'image/png' }] }],
    });
    assert.equal(tooBig.status, 400);
    assert.match(tooBig.body.error.issues[0].message, /image 0 is 6\.0 MB; the provider takes at most 5 MB/);
    assert.equal(tooBig.body.error.issues[0].path, 'items[0].attachments');
    const docUrl = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      items: [
        { id: 'x', content: 'read', attachments: [{ type: 'document', media_type: 'application/pdf', url: 'https://example.com/a.pdf' }] },
      ],
    });
    assert.equal(docUrl.status, 400);
    assert.match(docUrl.body.error.issues[0].message, /does not fetch documents by URL/);
    const unknown = await stack.post('/v1/batches', { model: 'llama3', items: [{ id: 'x', content: 'hi' }] });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.issues[0].message, /unknown model "llama3"/);
  });

  test('an expired provider batch keeps its partial results; only the rest is sent again', async () => {
    stack.emulator.setFaults({ batch_expire: { count: 1, after_fraction: 0.5 } });
    try {
      const created = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'batch', items: items(60, 'exp'), max_attempts: 2 });
      const done = await stack.waitForBatch(created.body.id);
      assert.equal(done.status, 'completed');
      assert.equal(done.counts.succeeded, 60);
      const jobs = await stack.db.query('SELECT attempt, item_count, status FROM provider_jobs WHERE batch_id = $1 ORDER BY attempt', [
        created.body.id,
      ]);
      assert.equal(jobs.rows[0].status, 'collected:expired');
      assert.equal(jobs.rows[0].item_count, 60);
      assert.ok(
        jobs.rows[1].item_count > 0 && jobs.rows[1].item_count < 60,
        `only the unfinished items went again: ${jobs.rows[1].item_count}`,
      );
      const kept = await stack.db.query('SELECT count(*)::int AS n FROM results WHERE batch_id = $1 AND attempt = 1 AND status = $2', [
        created.body.id,
        'succeeded',
      ]);
      assert.equal(kept.rows[0].n, 60 - jobs.rows[1].item_count, "the expired batch's answers were kept");
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('schema-invalid outputs are repaired: realtime asks again at once, batch resubmits with the errors', async () => {
    stack.emulator.setFaults({ malformed_json: { every: 3, once: true } });
    try {
      for (const mode of ['realtime', 'batch']) {
        // Every third answer of each request is broken, and a repair is a new request: with 60
        // items that takes up to four attempts in batch mode (20, 6, 2 broken, then none).
        const created = await stack.post('/v1/batches', {
          model: 'gpt-4.1-mini',
          mode,
          items: items(60, `fix-${mode}`),
          response_format: schemaFormat,
          max_attempts: 5,
        });
        const done = await stack.waitForBatch(created.body.id);
        assert.equal(done.status, 'completed', `${mode}: ${JSON.stringify(done.counts)}`);
        const rows = await results(stack, created.body.id);
        assert.ok(
          rows.every((r) => r.output && typeof r.output.urgent === 'boolean'),
          mode,
        );
      }
      assert.ok(stack.emulator.stats().faults_injected.malformed_json >= 20, 'outputs really were broken');
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('a 429 storm: every item succeeds, each 429 waited out for its Retry-After', async () => {
    stack.emulator.setFaults({ http: [{ path: '/v1/chat/completions', status: 429, count: 60, retry_after_s: 0.5 }] });
    try {
      const t0 = Date.now();
      const created = await stack.post('/v1/batches', { model: 'gpt-4.1-nano', mode: 'realtime', items: items(40, 'storm') });
      const done = await stack.waitForBatch(created.body.id);
      const seconds = (Date.now() - t0) / 1000;
      assert.equal(done.status, 'completed');
      assert.equal(done.counts.succeeded, 40);
      const limited = stack.emulator.stats().faults_injected.http;
      console.log(`429 storm: 40 items in ${seconds.toFixed(1)} s through ${limited} answers of 429`);
      assert.equal(limited, 60, 'the provider did push back, 60 times');
      assert.ok(seconds >= 0.5 * Math.floor(60 / 8), 'each 429 was waited out');
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test("Drover's shared limiter keeps under the provider's limit: no 429 at all", async () => {
    stack.emulator.setFaults({ rate_limit: { rpm: 600 } });
    try {
      const t0 = Date.now();
      const created = await stack.post('/v1/batches', { model: 'gpt-4o-mini', mode: 'realtime', items: items(40, 'lim') });
      const done = await stack.waitForBatch(created.body.id);
      const seconds = (Date.now() - t0) / 1000;
      assert.equal(done.counts.succeeded, 40);
      assert.equal(stack.emulator.stats().faults_injected.rate_limited, 0);
      // The provider would take all 40 at once; Drover's limiter spaces them: a burst of 5, then
      // (600 − 5 + 1)/60 ≈ 9.9 per second, so the other 35 take at least ~3.5 s.
      assert.ok(seconds >= 3.3, `40 calls in ${seconds} s: the limiter did not throttle`);
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('a worker killed mid-chunk resumes without redoing or re-billing finished items', async () => {
    stack.emulator.setFaults({ rate_limit: { rpm: 1200 } });
    try {
      const before = stack.emulator.stats().chat_completions;
      const created = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'realtime', items: items(80, 'crash') });
      const id = created.body.id;
      for (;;) {
        const { rows } = await stack.db.query('SELECT count(*)::int AS n FROM results WHERE batch_id = $1', [id]);
        if (rows[0].n >= 20) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await worker.kill('SIGKILL');
      worker = await stack.startWorker({
        DROVER_RATE_LIMITS: JSON.stringify({ 'openai/gpt-4o-mini': { rpm: 600 } }),
        DROVER_REALTIME_CONCURRENCY: '8',
      });
      const done = await stack.waitForBatch(id, 120_000);
      assert.equal(done.status, 'completed');
      assert.equal(done.counts.succeeded, 80);
      const calls = stack.emulator.stats().chat_completions - before;
      // Only calls in flight at the kill (at most the concurrency, 8) can be repeated.
      assert.ok(calls >= 80 && calls <= 88, `${calls} calls for 80 items`);
    } finally {
      stack.emulator.setFaults({});
    }
  });
});
