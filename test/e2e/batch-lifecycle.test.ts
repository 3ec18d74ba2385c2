import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStack } from '../helpers/stack.js';

const SCHEMA = {
  type: 'object',
  properties: { label: { type: 'string', enum: ['positive', 'negative', 'neutral'] }, score: { type: 'number', minimum: 0, maximum: 1 } },
  required: ['label', 'score'],
  additionalProperties: false,
};

function items(n: number, prefix = 'item') {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    content: `review number ${i}: the product was fine`,
    metadata: { row: i },
  }));
}

describe('a batch end to end', () => {
  // Four chunk starts per run, so a nine-chunk batch exercises continue-as-new twice.
  const stack = useStack({ processingMs: 200, api: { DROVER_CHUNKS_PER_RUN: '4' }, worker: true });

  test('2,500 items in chunks of 1,000 run as three chunk workflows, one result per item in every format', async () => {
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      system_prompt: 'Classify the sentiment of the review.',
      user_prompt_template: 'Review: {content}',
      response_format: { type: 'json_schema', json_schema: { name: 'sentiment', schema: SCHEMA, strict: true } },
      items: items(2500),
      chunk_size: 1000,
      max_parallel_chunks: 2,
    });
    assert.equal(created.status, 202, created.text);
    const id: string = created.body.id;
    assert.match(id, /^batch_[0-9a-f]{32}$/);

    const done = await stack.waitForBatch(id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.counts, { total: 2500, succeeded: 2500, failed: 0, cancelled: 0, pending: 0 });
    assert.ok(done.usage.input_tokens > 0 && done.usage.output_tokens > 0, 'usage is aggregated');
    assert.equal(done.chunks.total, 3);

    // Three chunk workflows, ids derived from the batch id.
    const chunkIds: string[] = [];
    for await (const wf of stack.client.workflow.list({
      query: `WorkflowType = 'processChunkWorkflow' AND WorkflowId STARTS_WITH '${id}/'`,
    }))
      chunkIds.push(wf.workflowId);
    assert.deepEqual(
      chunkIds.sort(),
      [0, 1, 2].map((i) => `${id}/chunk-${i}`),
    );
    assert.equal(stack.emulator.stats().batches_created, 3);

    // JSON pages
    const seen = new Set<string>();
    for (let offset = 0; ; offset += 1000) {
      const page = await stack.get(`/v1/batches/${id}/results?format=json&limit=1000&offset=${offset}`);
      assert.equal(page.status, 200);
      assert.equal(page.body.total, 2500);
      for (const r of page.body.data) {
        assert.equal(r.status, 'succeeded');
        assert.ok(['positive', 'negative', 'neutral'].includes(r.output.label), JSON.stringify(r.output));
        assert.equal(typeof r.usage.input_tokens, 'number');
        assert.equal(r.metadata.row, Number(r.id.split('-')[1]));
        assert.ok(!seen.has(r.id), `duplicate ${r.id}`);
        seen.add(r.id);
      }
      if (page.body.data.length < 1000) break;
    }
    assert.equal(seen.size, 2500);

    // JSONL streams every row
    const jsonl = await stack.get(`/v1/batches/${id}/results?format=jsonl`);
    const lines = jsonl.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2500);
    assert.equal(new Set(lines.map((l) => l.id)).size, 2500);

    // CSV: header + one row per item, the JSON output flattened into one column per field
    const csv = await stack.get(`/v1/batches/${id}/results?format=csv`);
    const rows = csv.text.trim().split('\r\n');
    assert.equal(
      rows[0],
      'id,status,output.label,output.score,error_code,error_message,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cost_usd,metadata',
    );
    assert.equal(rows.length, 2501);
    const first = rows[1]!.split(',');
    assert.ok(['positive', 'negative', 'neutral'].includes(first[2]!), rows[1]);
    assert.ok(Number(first[3]) >= 0 && Number(first[3]) <= 1, rows[1]);

    // The download route streams the same export as a named file.
    const file = await stack.request('GET', `/v1/batches/${id}/results/download?format=csv`);
    assert.equal(file.headers.get('content-disposition'), `attachment; filename="${id}-results.csv"`);
    assert.equal(file.text, csv.text);
    const failedOnly = await stack.request('GET', `/v1/batches/${id}/results/download?format=jsonl&status=failed`);
    assert.equal(failedOnly.headers.get('content-disposition'), `attachment; filename="${id}-failed-results.jsonl"`);
    assert.equal(failedOnly.text, '');

    // One item
    const one = await stack.get(`/v1/batches/${id}/items/item-42`);
    assert.equal(one.status, 200);
    assert.equal(one.body.id, 'item-42');
    assert.equal(one.body.status, 'succeeded');
    assert.equal((await stack.get(`/v1/batches/${id}/items/nope`)).status, 404);
  });

  test('the batch workflow history holds no item text', async () => {
    const marker = 'UNIQUE-SECRET-TEXT-7f3a';
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      items: Array.from({ length: 30 }, (_, i) => ({ id: `h${i}`, content: `${marker} ${i}` })),
      chunk_size: 10,
      mode: 'batch',
    });
    assert.equal(created.status, 202, created.text);
    const id = created.body.id;
    await stack.waitForBatch(id);
    const histories = [await stack.client.workflow.getHandle(id).fetchHistory()];
    for (let i = 0; i < 3; i++) histories.push(await stack.client.workflow.getHandle(`${id}/chunk-${i}`).fetchHistory());
    for (const h of histories) {
      const text = JSON.stringify(h);
      assert.ok(h.events && h.events.length > 0);
      assert.ok(!text.includes(marker), 'item text leaked into a workflow history');
      assert.ok(!text.includes(Buffer.from(marker).toString('base64').slice(0, 12)), 'item text leaked (base64) into a workflow history');
      assert.ok(!text.includes('sk-test-secret'), 'the API key leaked into a workflow history');
    }
    const results = await stack.get(`/v1/batches/${id}/results?format=jsonl`);
    assert.match(results.text, /UNIQUE-SECRET-TEXT-7f3a/, 'the emulator echoes item text, so the check above can fail');
  });

  test('per-line provider errors are resubmitted and succeed', async () => {
    stack.emulator.setFaults({ line_errors: { every: 4, status: 500, once: true } });
    try {
      const created = await stack.post('/v1/batches', {
        model: 'gpt-4.1-mini',
        mode: 'batch',
        items: items(40, 'retry'),
        chunk_size: 20,
        max_attempts: 3,
      });
      assert.equal(created.status, 202, created.text);
      const done = await stack.waitForBatch(created.body.id);
      assert.equal(done.status, 'completed');
      assert.equal(done.counts.succeeded, 40);
      assert.ok(stack.emulator.stats().faults_injected.line_errors >= 10, 'faults were injected');
      const { rows } = await stack.db.query(
        'SELECT attempt, count(*)::int AS n FROM results WHERE batch_id = $1 GROUP BY attempt ORDER BY attempt',
        [created.body.id],
      );
      assert.deepEqual(
        rows.map((r) => r.attempt),
        [1, 2],
        'some items succeeded only on the second attempt',
      );
      const jobs = await stack.db.query(
        'SELECT chunk_idx, attempt, item_count FROM provider_jobs WHERE batch_id = $1 ORDER BY chunk_idx, attempt',
        [created.body.id],
      );
      for (const j of jobs.rows.filter((r) => r.attempt === 2)) assert.ok(j.item_count < 20, 'only failed items are resubmitted');
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('items still failing at max_attempts end failed with their last error', async () => {
    stack.emulator.setFaults({ line_errors: { every: 5, status: 500, once: false } });
    try {
      const created = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'batch', items: items(10, 'bad'), max_attempts: 1 });
      const done = await stack.waitForBatch(created.body.id);
      assert.equal(done.status, 'completed_with_failures');
      assert.deepEqual(done.counts, { total: 10, succeeded: 8, failed: 2, cancelled: 0, pending: 0 });
      const failed = await stack.get(`/v1/batches/${created.body.id}/results?status=failed`);
      assert.equal(failed.body.total, 2);
      for (const r of failed.body.data) {
        assert.equal(r.status, 'failed');
        assert.equal(r.error.status_code, 500);
        assert.ok(r.error.message.length > 0);
      }
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('a batch whose every item fails on every attempt ends failed', async () => {
    stack.emulator.setFaults({ line_errors: { every: 1, status: 503, once: false } });
    try {
      const created = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'batch', items: items(6, 'doomed'), max_attempts: 2 });
      const done = await stack.waitForBatch(created.body.id);
      assert.equal(done.status, 'failed');
      assert.deepEqual(done.counts, { total: 6, succeeded: 0, failed: 6, cancelled: 0, pending: 0 });
      const { rows } = await stack.db.query('SELECT attempt, item_count FROM provider_jobs WHERE batch_id = $1 ORDER BY attempt', [
        created.body.id,
      ]);
      assert.deepEqual(rows, [
        { attempt: 1, item_count: 6 },
        { attempt: 2, item_count: 6 },
      ]);
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('a batch continues as new every few chunks, keeps its window and its tally', async () => {
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'batch',
      items: items(27, 'can'),
      chunk_size: 3,
      max_parallel_chunks: 3,
    });
    assert.equal(created.status, 202, created.text);
    const id = created.body.id;
    const done = await stack.waitForBatch(id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.counts, { total: 27, succeeded: 27, failed: 0, cancelled: 0, pending: 0 });
    assert.equal(done.usage.input_tokens > 0, true);

    const runs: Array<{ runId: string; status: string }> = [];
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId = '${id}'` }))
      runs.push({ runId: wf.runId, status: wf.status.name });
    assert.equal(runs.length, 3, 'nine chunks at four starts per run: three runs');
    assert.equal(runs.filter((r) => r.status === 'CONTINUED_AS_NEW').length, 2);
    for (const r of runs) {
      const history = await stack.client.workflow.getHandle(id, r.runId).fetchHistory();
      assert.ok(history.events!.length < 100, `run ${r.runId} has ${history.events!.length} events`);
    }
    const result = await stack.client.workflow.getHandle(id).result();
    assert.equal(result.succeeded, 27);
    assert.equal(result.chunkCount, 9);
  });

  test('the same idempotency key returns the same batch', async () => {
    const body = { model: 'gpt-4.1-mini', items: items(3, 'idem'), idempotency_key: 'nightly-2026-11-22' };
    const first = await stack.post('/v1/batches', body);
    const second = await stack.post('/v1/batches', body);
    assert.equal(first.status, 202);
    assert.equal(second.status, 200);
    assert.equal(second.body.id, first.body.id);
    const { rows } = await stack.db.query('SELECT count(*)::int AS n FROM batches WHERE idempotency_key = $1', ['nightly-2026-11-22']);
    assert.equal(rows[0].n, 1);
    await stack.waitForBatch(first.body.id);
  });
});
