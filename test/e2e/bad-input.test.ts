import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStack } from '../helpers/stack.js';

const ok = { model: 'gpt-4.1-mini', items: [{ id: 'a', content: 'hello' }] };

interface Case {
  name: string;
  body: unknown;
  contentType?: string;
  query?: string;
  /** Every issue the 400 must name, as `path` (and `line` for NDJSON). */
  expect: Array<{ path: string; line?: number; message?: RegExp }>;
  type?: string;
}

const cases: Case[] = [
  { name: 'empty batch', body: { model: 'gpt-4.1-mini', items: [] }, expect: [{ path: 'items', message: /at least one item/ }] },
  {
    name: 'duplicate ids',
    body: {
      model: 'gpt-4.1-mini',
      items: [
        { id: 'x', content: 'a' },
        { id: 'y', content: 'b' },
        { id: 'x', content: 'c' },
      ],
    },
    expect: [{ path: 'items[2].id', message: /duplicate id "x" \(first at items\[0\]\)/ }],
  },
  {
    name: 'item with nothing to send',
    body: { model: 'gpt-4.1-mini', items: [{ id: 'x' }] },
    expect: [{ path: 'items[0].content', message: /nothing to send/ }],
  },
  {
    name: 'placeholder with no value',
    body: {
      model: 'gpt-4.1-mini',
      user_prompt_template: 'Title: {title}\n{content}',
      items: [
        { id: 'x', inputs: { title: 't' }, content: 'c' },
        { id: 'y', content: 'c' },
      ],
    },
    expect: [{ path: 'items[1].content', message: /\{title\}/ }],
  },
  {
    name: 'invalid JSON schema',
    body: { ...ok, response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'objekt' } } } },
    expect: [{ path: 'response_format.json_schema.schema', message: /not a valid JSON Schema/ }],
  },
  {
    name: 'unknown top-level field',
    body: { ...ok, temperature_typo: 1 },
    expect: [{ path: '(body)', message: /unknown field: temperature_typo/ }],
  },
  {
    name: 'unknown item field',
    body: { model: 'gpt-4.1-mini', items: [{ id: 'x', content: 'a', contnet: 'b' }] },
    expect: [{ path: 'items[0]', message: /unknown field: contnet/ }],
  },
  {
    name: 'unknown provider',
    body: { ...ok, model: 'acme/model-1' },
    expect: [{ path: 'model', message: /unknown provider "acme"; known providers: openai/ }],
  },
  {
    name: 'wrong types',
    body: { model: 'gpt-4.1-mini', chunk_size: 0, items: [{ id: 1, content: 'a' }] },
    expect: [{ path: 'chunk_size' }, { path: 'items[0].id' }],
  },
  { name: 'body that is not JSON', body: '{"model": "gpt-4.1-mini", items: [', expect: [], type: 'invalid_json' },
  { name: 'body that is a JSON array', body: '[1,2]', expect: [{ path: '(body)' }] },
  {
    name: 'NDJSON: a bad line and a bad field, each with its line',
    contentType: 'application/x-ndjson',
    query: '?model=gpt-4.1-mini',
    body: '{"id":"a","content":"x"}\n{"id":"b","content":\n\n{"id":"c"}\n{"id":"a","content":"dup"}\n{"id":"d","content":5}\n',
    expect: [
      { path: '(line)', line: 2, message: /not valid JSON/ },
      { path: 'content', line: 4, message: /nothing to send/ },
      { path: 'id', line: 5, message: /duplicate id "a" \(first at line 1\)/ },
      { path: 'content', line: 6 },
    ],
  },
  {
    name: 'NDJSON: empty body',
    contentType: 'application/x-ndjson',
    query: '?model=gpt-4.1-mini',
    body: '\n',
    expect: [{ path: '(body)', message: /at least one item/ }],
  },
  {
    name: 'NDJSON: bad settings in the query',
    contentType: 'application/x-ndjson',
    query: '?model=gpt-4.1-mini&chunk_size=-3&colour=red',
    body: '{"id":"a","content":"x"}\n',
    expect: [{ path: '(body)', message: /unknown field: colour/ }],
  },
];

describe('bad input', () => {
  const stack = useStack();

  for (const c of cases) {
    test(`${c.name} → 400 naming the problem, nothing stored, no workflow`, async () => {
      const before = await stack.storedCounts();
      const body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
      const res = await stack.request('POST', `/v1/batches${c.query ?? ''}`, body, { 'content-type': c.contentType ?? 'application/json' });
      assert.equal(res.status, 400, res.text);
      assert.equal(typeof res.body.error.message, 'string');
      assert.equal(res.body.error.type, c.type ?? 'invalid_request');
      for (const e of c.expect) {
        const hit = res.body.error.issues.find(
          (i: any) => i.path === e.path && (e.line === undefined || i.line === e.line) && (!e.message || e.message.test(i.message)),
        );
        assert.ok(
          hit,
          `expected an issue at ${e.path}${e.line ? ` line ${e.line}` : ''} matching ${e.message}; got ${JSON.stringify(res.body.error.issues)}`,
        );
      }
      assert.deepEqual(await stack.storedCounts(), before, 'a rejected request must leave nothing behind');
    });
  }

  test('POST /v1/batches/validate lists every problem with its line and creates nothing', async () => {
    const before = await stack.storedCounts();
    const bad = await stack.request(
      'POST',
      '/v1/batches/validate?model=gpt-4.1-mini',
      '{"id":"a","content":"x"}\nnot json\n{"id":"a","content":"y"}\n',
      {
        'content-type': 'application/x-ndjson',
      },
    );
    assert.equal(bad.status, 200);
    assert.equal(bad.body.valid, false);
    assert.deepEqual(
      bad.body.issues.map((i: any) => [i.line, i.path]),
      [
        [2, '(line)'],
        [3, 'id'],
      ],
    );
    const good = await stack.post('/v1/batches/validate', {
      model: 'gpt-4.1-mini',
      chunk_size: 2,
      items: [
        { id: 'a', content: 'x' },
        { id: 'b', content: 'y' },
        { id: 'c', content: 'z' },
      ],
    });
    assert.deepEqual(good.body, { object: 'validation', valid: true, item_count: 3, chunk_count: 2, issue_count: 0, issues: [] });
    assert.deepEqual(await stack.storedCounts(), before);
  });

  test('an unknown batch is a 404 in the shared error shape', async () => {
    for (const path of ['/v1/batches/batch_nope', '/v1/batches/batch_nope/results', '/v1/batches/batch_nope/items/x']) {
      const res = await stack.get(path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.type, 'not_found');
    }
    const bad = await stack.get('/v1/batches/batch_nope/results?format=xml');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.issues[0].path, 'format');
  });

  test('a valid NDJSON body streams into the store', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ id: `n${i}`, inputs: { name: `row ${i}` } })).join('\n');
    const schema = encodeURIComponent(
      JSON.stringify({
        type: 'json_schema',
        json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } },
      }),
    );
    const res = await stack.request(
      'POST',
      `/v1/batches?model=gpt-4.1-mini&user_prompt_template=${encodeURIComponent('Name: {name}')}&response_format=${schema}&chunk_size=2000`,
      lines,
      {
        'content-type': 'application/x-ndjson',
      },
    );
    assert.equal(res.status, 202, res.text);
    assert.equal(res.body.counts.total, 5000);
    const { rows } = await stack.db.query('SELECT count(*)::int AS n, max(seq) AS last FROM items WHERE batch_id = $1', [res.body.id]);
    assert.deepEqual(rows[0], { n: 5000, last: 4999 });
    const wf = await stack.client.workflow.getHandle(res.body.id).describe();
    assert.equal(wf.type, 'processBatchWorkflow');
    await stack.client.workflow.getHandle(res.body.id).terminate('test only checks intake');
  });
});
