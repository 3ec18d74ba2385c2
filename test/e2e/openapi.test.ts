import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { useStack } from '../helpers/stack.js';

/**
 * The OpenAPI document against the API itself: every route Express serves is documented (and
 * nothing else), every reference resolves, and real answers from the running stack match the
 * schema the document gives for their status.
 */

type Json = Record<string, any>;

/** `[method, path]` of every route the app serves, in OpenAPI form (`{id}`). */
function expressRoutes(app: any): string[] {
  const out: string[] = [];
  const walk = (stack: any[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const m of Object.keys(layer.route.methods))
          out.push(`${m} ${String(layer.route.path).replace(/:(\w+)/g, (_, n) => `{${n === 'itemId' ? 'item_id' : n}}`)}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk(app.router.stack);
  return out.sort();
}

function refs(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, found));
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) k === '$ref' ? found.push(v as string) : refs(v, found);
  return found;
}

describe('OpenAPI document', () => {
  const stack = useStack({ processingMs: 200, worker: true, allowPrivateWebhooks: true });
  let doc: Json;
  let ajv: Ajv2020;
  const checked: string[] = [];

  /** Asserts a real answer matches the document's schema for its method, path and status. */
  async function conforms(method: string, docPath: string, res: { status: number; body: any; text: string }) {
    const op = doc.paths[docPath]?.[method];
    assert.ok(op, `${method} ${docPath} is documented`);
    const response = op.responses[String(res.status)];
    assert.ok(response, `${method} ${docPath}: status ${res.status} is documented (${res.text.slice(0, 200)})`);
    const pointer = `openapi#/paths/${docPath.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}/responses/${res.status}/content/application~1json/schema`;
    const validate = ajv.getSchema(pointer) ?? ajv.compile({ $ref: pointer });
    assert.ok(validate(res.body), `${method} ${docPath} ${res.status}: ${JSON.stringify(validate.errors)}\n${res.text.slice(0, 500)}`);
    checked.push(`${method} ${docPath} ${res.status}`);
  }

  before(async () => {
    const res = await stack.get('/openapi.json');
    assert.equal(res.status, 200);
    doc = res.body;
    ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema(doc, 'openapi');
  });

  test('documents exactly the routes the API serves, and every reference resolves', () => {
    const documented = Object.entries(doc.paths as Json)
      .flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`))
      .sort();
    assert.deepEqual(documented, expressRoutes(stack.api.app));
    assert.equal(doc.openapi, '3.1.0');
    const schemas = doc.components.schemas as Json;
    const missing = refs(doc).filter((r) => !(r.replace('#/components/schemas/', '') in schemas));
    assert.deepEqual(missing, []);
    // Every component compiles as JSON Schema 2020-12.
    for (const name of Object.keys(schemas)) assert.ok(ajv.getSchema(`openapi#/components/schemas/${name}`), name);
    // Request fields come from the zod schemas, with their descriptions and defaults.
    const create = schemas.BatchCreateRequest;
    assert.deepEqual(create.required, ['model']);
    assert.equal(create.properties.mode.default, 'auto');
    assert.match(create.properties.max_cost_usd.description, /Spend ceiling/);
    assert.ok(
      create.properties.categories && create.properties.extraction_instructions && create.properties.fields,
      'operation fields are listed',
    );
    const limit = doc.paths['/v1/batches'].get.parameters.find((p: Json) => p.name === 'limit');
    assert.deepEqual([limit.in, limit.required, limit.schema.maximum, limit.schema.default], ['query', false, 100, 20]);
  });

  test('real answers match the documented schemas', async () => {
    const items = Array.from({ length: 3 }, (_, i) => ({ id: `i${i}`, content: `hello ${i}` }));
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      items,
      metadata: { team: 'docs' },
      webhook_url: 'http://127.0.0.1:9/hook',
    });
    await conforms('post', '/v1/batches', created);
    assert.ok(created.body.webhook_secret, 'the secret is documented and sent once');
    const id = created.body.id as string;
    await conforms('get', '/v1/batches/{id}', await stack.get(`/v1/batches/${id}`));
    await stack.waitForBatch(id);
    await conforms('get', '/v1/batches/{id}', await stack.get(`/v1/batches/${id}`));
    await conforms('post', '/v1/batches', await stack.post('/v1/batches', { model: 'gpt-4.1-mini', items, dry_run: true }));
    await conforms('get', '/v1/batches/{id}/results', await stack.get(`/v1/batches/${id}/results`));
    await conforms('get', '/v1/batches/{id}/items/{item_id}', await stack.get(`/v1/batches/${id}/items/i1`));
    await conforms('get', '/v1/batches/{id}/items/{item_id}', await stack.get(`/v1/batches/${id}/items/nope`));
    await conforms('get', '/v1/batches', await stack.get('/v1/batches?limit=5'));
    await conforms('get', '/v1/batches', await stack.get('/v1/batches?limit=500'));
    await conforms('post', '/v1/batches/{id}/cancel', await stack.post(`/v1/batches/${id}/cancel`, {}));
    await conforms(
      'patch',
      '/v1/batches/{id}/limits',
      await stack.request('PATCH', `/v1/batches/${id}/limits`, JSON.stringify({ max_cost_usd: 5 }), { 'content-type': 'application/json' }),
    );
    await conforms('get', '/v1/batches/{id}', await stack.get('/v1/batches/batch_missing'));
    await conforms('post', '/v1/batches/{id}/rerun', await stack.post(`/v1/batches/${id}/rerun`, { status: ['cancelled'] }));
    await conforms('post', '/v1/batches/{id}/rerun', await stack.post('/v1/batches/batch_missing/rerun', {}));
    await conforms('delete', '/v1/admin/tenants/{tenant}/cache', await stack.request('DELETE', '/v1/admin/tenants/default/cache'));
    await conforms('post', '/v1/batches/estimate', await stack.post('/v1/batches/estimate', { model: 'gpt-4.1-mini', items }));
    await conforms('post', '/v1/batches/validate', await stack.post('/v1/batches/validate', { model: 'gpt-4.1-mini', items }));
    await conforms(
      'post',
      '/v1/batches/validate',
      await stack.post('/v1/batches/validate', { model: 'gpt-4.1-mini', items: [{ id: 'x', nope: 1 }] }),
    );
    await conforms('post', '/v1/batches', await stack.post('/v1/batches', { model: 'gpt-4.1-mini', items: [{ id: 'x', nope: 1 }] }));
    await conforms(
      'post',
      '/v1/completions/{operation}',
      await stack.post('/v1/completions/classify', { model: 'gpt-4.1-mini', categories: ['a', 'b'], items: [{ content: 'x' }] }),
    );
    const file = await stack.request('POST', '/v1/files?format=jsonl', '{"id":"a","content":"x"}\n', {
      'content-type': 'application/x-ndjson',
    });
    await conforms('post', '/v1/files', file);
    await conforms('get', '/v1/files/{id}', await stack.get(`/v1/files/${file.body.id}`));
    await conforms('get', '/healthz', await stack.get('/healthz'));
    await conforms('get', '/v1/batches', await stack.as(null).get('/v1/batches'));
    const key = await stack.post('/v1/admin/keys', { tenant: 'docs', name: 'reader', scopes: ['batches:read'] });
    await conforms('post', '/v1/admin/keys', key);
    await conforms('post', '/v1/admin/keys', await stack.post('/v1/admin/keys', { tenant: 'docs', name: 'x', scopes: ['root'] }));
    await conforms('post', '/v1/batches/{id}/cancel', await stack.as(key.body.key).post(`/v1/batches/${id}/cancel`, {}));
    await conforms('get', '/v1/admin/keys', await stack.get('/v1/admin/keys?tenant=docs'));
    await conforms('delete', '/v1/admin/keys/{id}', await stack.request('DELETE', `/v1/admin/keys/${key.body.id}`));
    await conforms('delete', '/v1/admin/keys/{id}', await stack.request('DELETE', '/v1/admin/keys/key_ffffffffffffffff'));
    assert.ok(checked.length >= 20, checked.join('\n'));
  });

  test('/docs renders every operation and schema as a page of its own', async () => {
    const res = await stack.request('GET', '/docs');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const m of Object.keys(item))
        assert.ok(
          res.text.includes(`<span class="method ${m}">${m.toUpperCase()}</span> <code>${path}</code>`),
          `${m} ${path} on the page`,
        );
    }
    for (const name of Object.keys(doc.components.schemas))
      assert.ok(res.text.includes(`id="schema-${name}"`), `schema ${name} on the page`);
    assert.doesNotMatch(res.text, /<script/, 'no script: the page works offline');
  });
});
