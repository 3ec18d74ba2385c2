import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { compileOperation, type StructuredOperation } from '../../domain/operations.js';
import { useStack } from '../helpers/stack.js';

const texts = ['The invoice from ACME for $120 is overdue.', 'Great service, the parcel came a day early!', 'How do I reset my password?'];

const operations: StructuredOperation[] = [
  {
    operation: 'classify',
    categories: ['billing', 'praise', { name: 'account', description: 'logins and passwords' }],
    multi_label: false,
  },
  { operation: 'classify', categories: ['billing', 'praise', 'account'], multi_label: true },
  { operation: 'extract', extraction_instructions: 'Extract the company and the amount, if any.' },
  {
    operation: 'extract',
    extraction_instructions: 'Extract the company and the amount.',
    schema: { type: 'object', properties: { company: { type: 'string' }, amount: { type: 'number' } }, required: ['company'] },
  },
  { operation: 'summarize', max_words: 12 },
  {
    operation: 'enrich',
    fields: [
      { name: 'sentiment', type: 'categorical', valid_values: ['positive', 'neutral', 'negative'] },
      { name: 'mentions_money', type: 'boolean' },
      { name: 'urgency', type: 'number', description: '0 to 1' },
    ],
  },
];

describe('operations', () => {
  const stack = useStack({ processingMs: 200, worker: true });

  for (const op of operations) {
    for (const mode of ['batch', 'realtime'] as const) {
      test(`${op.operation}${'multi_label' in op && op.multi_label ? ' (multi-label)' : ''}${'schema' in op && op.schema ? ' (with schema)' : ''} in ${mode} mode: schema-valid outputs`, async () => {
        const created = await stack.post('/v1/batches', {
          ...op,
          model: 'gpt-4.1-mini',
          mode,
          items: texts.map((content, i) => ({ id: `t${i}`, content })),
        });
        assert.equal(created.status, 202, created.text);
        const done = await stack.waitForBatch(created.body.id);
        assert.equal(done.status, 'completed', JSON.stringify(done.counts));
        const validate = new Ajv({ strict: false }).compile(compileOperation(op).response_format.json_schema.schema);
        const rows = (await stack.get(`/v1/batches/${created.body.id}/results`)).body.data;
        assert.equal(rows.length, 3);
        for (const r of rows) {
          assert.equal(r.path, mode);
          assert.ok(validate(r.output), `${JSON.stringify(r.output)}: ${JSON.stringify(validate.errors)}`);
        }
      });
    }
  }

  test('operation fields are checked like any other: every problem named, nothing stored', async () => {
    const bad = await stack.post('/v1/batches', {
      operation: 'classify',
      categories: ['a', 'a'],
      model: 'gpt-4.1-mini',
      items: [{ id: 'x', content: 'y' }],
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.error.issues.map((i: any) => i.path),
      ['categories[1]'],
    );
    const clash = await stack.post('/v1/batches', {
      operation: 'summarize',
      system_prompt: 'x',
      model: 'gpt-4.1-mini',
      items: [{ id: 'x', content: 'y' }],
    });
    assert.equal(clash.status, 400);
    assert.match(clash.body.error.issues[0].message, /operation summarize writes system_prompt itself/);
    const unknown = await stack.post('/v1/batches', { operation: 'translate', model: 'gpt-4.1-mini', items: [{ id: 'x', content: 'y' }] });
    assert.match(unknown.body.error.issues[0].message, /unknown operation "translate"; known: classify, extract, summarize, enrich, run/);
    const categorical = await stack.post('/v1/batches', {
      operation: 'enrich',
      fields: [{ name: 'tone', type: 'categorical' }],
      model: 'gpt-4.1-mini',
      items: [{ id: 'x', content: 'y' }],
    });
    assert.equal(categorical.body.error.issues[0].path, 'fields[0].valid_values');
    const { rows } = await stack.db.query('SELECT count(*)::int AS n FROM batches WHERE status = $1', ['queued']);
    assert.equal(rows[0].n, 0);
  });

  test('POST /v1/completions/:operation answers with the results, in item order, ids by position', async () => {
    const res = await stack.post('/v1/completions/classify', {
      model: 'gpt-4.1-mini',
      categories: ['billing', 'praise', 'account'],
      items: texts.map((content) => ({ content })),
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.object, 'completion');
    assert.deepEqual(
      res.body.results.map((r: any) => r.id),
      ['0', '1', '2'],
    );
    for (const r of res.body.results) {
      assert.equal(r.path, 'realtime');
      assert.ok(['billing', 'praise', 'account'].includes(r.output.label), JSON.stringify(r));
    }
    const enriched = await stack.post('/v1/completions/enrich', {
      model: 'gpt-4.1-mini',
      fields: [{ name: 'urgent', type: 'boolean' }],
      items: [{ id: 'x', content: 'help!' }],
    });
    assert.equal(typeof enriched.body.results[0].output.urgent, 'boolean');

    assert.equal((await stack.post('/v1/completions/translate', { model: 'gpt-4.1-mini', items: [{ content: 'x' }] })).status, 400);
    const tooMany = await stack.post('/v1/completions/summarize', {
      model: 'gpt-4.1-mini',
      items: Array.from({ length: 101 }, () => ({ content: 'x' })),
    });
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.error.issues[0].message, /at most 100 items here/);
  });

  test('a completion that outlives its timeout answers 504 naming the batch, which goes on', async () => {
    stack.emulator.setFaults({ http: [{ path: '/v1/chat/completions', status: 429, count: 1, retry_after_s: 3 }] });
    try {
      const res = await stack.post('/v1/completions/summarize?timeout_seconds=1', { model: 'gpt-4.1-mini', items: [{ content: 'x' }] });
      assert.equal(res.status, 504, res.text);
      const id = /batch (batch_[0-9a-f]{32})/.exec(res.body.error.message)![1]!;
      const done = await stack.waitForBatch(id);
      assert.equal(done.status, 'completed');
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('an operation over NDJSON takes its fields from the query string', async () => {
    const lines = texts.map((content, i) => JSON.stringify({ id: `n${i}`, content })).join('\n');
    const q = new URLSearchParams({
      model: 'gpt-4.1-mini',
      operation: 'classify',
      categories: JSON.stringify(['billing', 'praise', 'account']),
    });
    const created = await stack.request('POST', `/v1/batches?${q}`, lines, { 'content-type': 'application/x-ndjson' });
    assert.equal(created.status, 202, created.text);
    await stack.waitForBatch(created.body.id);
    const rows = (await stack.get(`/v1/batches/${created.body.id}/results`)).body.data;
    assert.ok(rows.every((r: any) => ['billing', 'praise', 'account'].includes(r.output.label)));
  });
});
