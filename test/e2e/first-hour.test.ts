import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStack } from '../helpers/stack.js';

/**
 * What a new user meets in the first hour (issue 13), against the real stack: a model typo, a
 * JSON body over the limit, files that expire and can be deleted, and `GET /`.
 */
describe('the first hour', () => {
  const stack = useStack({ processingMs: 200, worker: true, api: { DROVER_JSON_LIMIT: '1mb' } });

  test('a model typo is answered with the name it meant, at submit, estimate and validate', async () => {
    const body = { model: 'gpt-4.1-minii', items: [{ id: 'r1', content: 'Loved it' }] };
    for (const path of ['/v1/batches', '/v1/batches/estimate', '/v1/batches/validate']) {
      const r = await stack.post(path, body);
      const issues = r.status === 200 ? r.body.issues : r.body.error.issues;
      assert.deepEqual(
        issues,
        [{ path: 'model', message: "unknown model 'gpt-4.1-minii' for openai; did you mean gpt-4.1-mini?" }],
        `${path}: ${r.text}`,
      );
    }
    assert.equal((await stack.storedCounts()).batches, 0);
  });

  test('a JSON body over the limit: a 413 naming the limit, NDJSON and /v1/files, in the one error shape', async () => {
    const items = Array.from({ length: 1200 }, (_, i) => ({ id: `i${i}`, content: 'x'.repeat(1000) }));
    const r = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', items });
    assert.equal(r.status, 413, r.text);
    assert.equal(r.body.error.type, 'body_too_large');
    assert.match(r.body.error.message, /over 1mb \(DROVER_JSON_LIMIT\)/);
    assert.match(r.body.error.message, /NDJSON \(Content-Type: application\/x-ndjson/);
    assert.match(r.body.error.message, /POST \/v1\/files\) and pass input_file_id/);
    assert.deepEqual(r.body.error.issues, [{ path: '(body)', message: 'at most 1mb' }]);
  });

  test('GET / sends people to the reference', async () => {
    const r = await fetch(`${stack.api.url}/`, { redirect: 'manual' });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), '/docs');
    const followed = await fetch(`${stack.api.url}/`);
    assert.equal(followed.status, 200);
    assert.match(await followed.text(), /<html/i);
  });

  describe('the reference', () => {
    test('every parameter of /openapi.json has a description', async () => {
      const doc = (await stack.get('/openapi.json')).body;
      const rows = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
        Object.entries(item).flatMap(([method, op]) =>
          (op.parameters ?? []).map((p: any) => ({ at: `${method} ${path} ${p.in} ${p.name}`, p })),
        ),
      );
      assert.ok(rows.length > 100, `${rows.length} parameter rows`);
      const empty = rows.filter(({ p }) => typeof p.description !== 'string' || p.description.trim() === '').map(({ at }) => at);
      assert.deepEqual(empty, []);
      // The NDJSON settings say what they are and borrow the JSON body's words.
      const categories = doc.paths['/v1/batches'].post.parameters.find((p: any) => p.name === 'categories');
      assert.equal(categories['x-drover-group'], 'ndjson');
      assert.match(
        categories.description,
        /^NDJSON bodies only: the `categories` setting \(JSON text, URL-encoded\)\. classify: the labels/,
      );
      const limit = doc.paths['/v1/batches'].get.parameters.find((p: any) => p.name === 'limit');
      assert.equal(limit['x-drover-group'], undefined);
    });

    test('/docs: the NDJSON settings folded apart, the JSON body shown inline, no stray text', async () => {
      const page = (await stack.request('GET', '/docs')).text;
      const create = page.slice(page.indexOf('id="op-post-v1-batches"'), page.indexOf('id="op-get-v1-batches"'));
      assert.ok(create.length > 0);
      const [beforeFold = '', fold = ''] = create.split('<details class="ndjson">');
      assert.doesNotMatch(beforeFold, /<code>categories<\/code><\/td><td>query/, 'no NDJSON setting among the parameters');
      assert.match(fold, /^<summary>NDJSON settings: \d+ query parameters, only with <code>Content-Type: application\/x-ndjson<\/code>/);
      assert.match(fold, /<code>categories<\/code><\/td><td>query/);
      // The JSON body's fields are listed where the body is, not only behind a link.
      assert.match(
        beforeFold,
        /<h4>Body<\/h4><div class="media"><code>application\/json<\/code>: <a href="#schema-BatchCreateRequest">BatchCreateRequest<\/a>/,
      );
      assert.match(beforeFold, /<code>max_cost_usd<\/code><\/td><td>number/);
      assert.match(
        beforeFold,
        /<code>application\/x-ndjson<\/code>: one <a href="#schema-Item">Item<\/a> per line\. Settings and operation fields go in the query string/,
      );
      assert.doesNotMatch(page, /query string\.,/);
    });
  });

  describe('files', () => {
    const upload = (caller = stack.as(stack.adminKey), query = '') =>
      caller.request('POST', `/v1/files?format=jsonl${query}`, '{"id":"a","content":"Loved it"}\n{"id":"b","content":"Broke"}\n', {
        'content-type': 'application/x-ndjson',
      });

    test('a file expires after the TTL unless the upload asks for less; expired ones are gone and swept', async () => {
      const up = await upload();
      assert.equal(up.status, 201, up.text);
      const ttl = Date.parse(up.body.expires_at) - Date.parse(up.body.created_at);
      assert.ok(Math.abs(ttl - 7 * 24 * 3600_000) < 5_000, `7 days: ${ttl} ms`);
      const short = await upload(undefined, '&expires_after_seconds=3600');
      assert.ok(Math.abs(Date.parse(short.body.expires_at) - Date.parse(short.body.created_at) - 3600_000) < 5_000, short.text);
      assert.equal((await upload(undefined, '&expires_after_seconds=5')).status, 400);

      await stack.db.query("UPDATE files SET expires_at = now() - interval '1 second' WHERE id = $1", [short.body.id]);
      assert.equal((await stack.get(`/v1/files/${short.body.id}`)).status, 404);
      const refused = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', input_file_id: short.body.id });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error.issues[0].path, 'input_file_id');
      // The next upload sweeps it away, lines and all.
      await upload();
      const left = await stack.db.query(
        'SELECT (SELECT count(*) FROM files WHERE id = $1)::int AS f, (SELECT count(*) FROM file_lines WHERE file_id = $1)::int AS l',
        [short.body.id],
      );
      assert.deepEqual(left.rows[0], { f: 0, l: 0 });
      assert.equal((await stack.get(`/v1/files/${up.body.id}`)).status, 200);
    });

    test("DELETE /v1/files/:id: the tenant's own, with batches:write; a batch made from it keeps its items", async () => {
      const up = await upload();
      const batch = await stack.post('/v1/batches', {
        model: 'gpt-4.1-mini',
        input_file_id: up.body.id,
        operation: 'classify',
        categories: ['positive', 'negative'],
      });
      assert.equal(batch.status, 202, batch.text);

      const other = await stack.createKey({ tenant: 'other', scopes: ['batches:read', 'batches:write'] });
      assert.equal(
        (await stack.as(other.key).request('DELETE', `/v1/files/${up.body.id}`)).status,
        404,
        'another tenant sees no such file',
      );
      const reader = await stack.createKey({ scopes: ['batches:read'] });
      assert.equal((await stack.as(reader.key).request('DELETE', `/v1/files/${up.body.id}`)).status, 403);

      const gone = await stack.request('DELETE', `/v1/files/${up.body.id}`);
      assert.equal(gone.status, 200, gone.text);
      assert.deepEqual(gone.body, { id: up.body.id, object: 'file', deleted: true });
      assert.equal((await stack.get(`/v1/files/${up.body.id}`)).status, 404);
      assert.equal((await stack.request('DELETE', `/v1/files/${up.body.id}`)).status, 404);
      const lines = await stack.db.query('SELECT count(*)::int AS n FROM file_lines WHERE file_id = $1', [up.body.id]);
      assert.equal(lines.rows[0].n, 0);

      const done = await stack.waitForBatch(batch.body.id);
      assert.equal(done.counts.succeeded, 2, JSON.stringify(done.counts));
    });

    test('a file a submit is still reading is not pulled from under it: 409, then deletable', async () => {
      const up = await upload();
      // What a submit's transaction holds while it copies the file's lines (store/files.ts fileLines).
      const reader = await stack.db.connect();
      try {
        await reader.query('BEGIN');
        await reader.query('SELECT id FROM files WHERE id = $1 FOR SHARE', [up.body.id]);
        const busy = await stack.request('DELETE', `/v1/files/${up.body.id}`);
        assert.equal(busy.status, 409, busy.text);
        assert.equal(busy.body.error.type, 'file_in_use');
        await reader.query('COMMIT');
      } finally {
        reader.release();
      }
      assert.equal((await stack.request('DELETE', `/v1/files/${up.body.id}`)).status, 200);
    });
  });
});
