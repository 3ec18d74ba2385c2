import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { z } from 'zod';
import {
  ConnectionError,
  DroverClient,
  DroverError,
  DroverResponseError,
  NotFoundError,
  OutputParseError,
  RateLimitError,
  ServerError,
  TimeoutError,
  ValidationError,
  AuthenticationError,
  strictCompatible,
  withSchema,
  type ResultView,
} from '../../client/index.js';
import { splitLines } from '../../client/streams.js';

/**
 * The client's transport against tiny local HTTP servers that misbehave on purpose: retries,
 * Retry-After, timeouts, error mapping and response checking. No Drover stack needed.
 */

const BATCH = {
  id: 'batch_1',
  object: 'batch',
  status: 'running',
  model: 'gpt-4.1-mini',
  provider: 'openai',
  counts: { total: 2, succeeded: 1, failed: 0, cancelled: 0, pending: 1 },
  usage: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 5, reasoning_tokens: 0 },
  cost: { spent_usd: 0.001, reserved_usd: 0, limit_usd: null, estimated_total_usd: 0.002 },
  deadline: null,
  chunks: { total: 1, completed: 0, running: 1, waiting: 0 },
  metadata: null,
  error: null,
  created_at: '2026-01-01T00:00:00.000Z',
  started_at: '2026-01-01T00:00:01.000Z',
  completed_at: null,
  eta: null,
};

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, n: number, body: string) => void;

const servers: Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server answering with `handler`; `seen` records every request it got. */
async function serve(handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    handler(req, res, seen.length, body);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const errorBody = (type: string, message: string, issues?: unknown[]) => ({ error: { type, message, ...(issues ? { issues } : {}) } });

const fast = (url: string, extra: Partial<ConstructorParameters<typeof DroverClient>[0]> = {}) =>
  new DroverClient({ baseUrl: url, retryBaseDelayMs: 10, retryMaxDelayMs: 50, ...extra });

describe('retries', () => {
  test('503 twice, then 200: three attempts, one request id, the batch parsed', async () => {
    const { url, seen } = await serve((_req, res, n) =>
      n <= 2 ? json(res, 503, errorBody('unavailable', 'try later')) : json(res, 200, BATCH),
    );
    const batch = await fast(url).batches.retrieve('batch_1');
    assert.equal(batch.id, 'batch_1');
    assert.equal(seen.length, 3);
    assert.ok(seen.every((s) => s.url === '/v1/batches/batch_1' && s.method === 'GET'));
    assert.equal(new Set(seen.map((s) => s.headers['x-request-id'])).size, 1, 'one request id across the retries');
  });

  test('429 with retry-after: 0 is retried at once, not after the backoff', async () => {
    const { url, seen } = await serve((_req, res, n) =>
      n === 1 ? json(res, 429, errorBody('rate_limited', 'slow down'), { 'retry-after': '0' }) : json(res, 200, BATCH),
    );
    const started = Date.now();
    await new DroverClient({ baseUrl: url, retryBaseDelayMs: 5_000 }).batches.retrieve('batch_1');
    assert.equal(seen.length, 2);
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms: Retry-After was not honoured`);
  });

  test('a Retry-After beyond maxRetryAfterMs is not waited out', async () => {
    const { url, seen } = await serve((_req, res) =>
      json(res, 429, errorBody('rate_limited', 'come back tomorrow'), { 'retry-after': '86400' }),
    );
    const err = await fast(url)
      .batches.retrieve('batch_1')
      .catch((e: unknown) => e);
    assert.ok(err instanceof RateLimitError);
    assert.equal(err.retryAfterMs, 86_400_000);
    assert.equal(err.type, 'rate_limited');
    assert.equal(seen.length, 1);
  });

  test('maxRetries bounds the attempts; the last error is a ServerError', async () => {
    const { url, seen } = await serve((_req, res) =>
      json(res, 500, errorBody('internal_error', 'internal error; see the server log'), { 'x-request-id': 'srv-1' }),
    );
    const err = await fast(url, { maxRetries: 2 })
      .batches.retrieve('batch_1')
      .catch((e: unknown) => e);
    assert.ok(err instanceof ServerError);
    assert.equal(err.status, 500);
    assert.equal(err.type, 'internal_error');
    assert.equal(err.requestId, 'srv-1');
    assert.equal(seen.length, 3);
    const none = await serve((_req, res) => json(res, 502, '<html>bad gateway</html>'));
    const raw = await fast(none.url, { maxRetries: 0 })
      .batches.retrieve('batch_1')
      .catch((e: unknown) => e);
    assert.ok(raw instanceof ServerError);
    assert.equal(raw.type, 'http_error');
    assert.match(raw.message, /HTTP 502.*bad gateway/);
    assert.equal(none.seen.length, 1);
  });

  test('4xx answers are not retried and map to their classes', async () => {
    const cases: Array<[number, unknown, new (...a: never[]) => DroverError]> = [
      [400, errorBody('invalid_request', 'the request has 1 problem', [{ path: 'model', message: 'Required' }]), ValidationError],
      [422, errorBody('invalid_request', 'nope'), ValidationError],
      [401, errorBody('unauthorized', 'no key'), AuthenticationError],
      [403, errorBody('forbidden', 'not yours'), AuthenticationError],
      [404, errorBody('not_found', 'batch x not found'), NotFoundError],
    ];
    for (const [status, body, cls] of cases) {
      const { url, seen } = await serve((_req, res) => json(res, status, body));
      const err = await fast(url)
        .batches.retrieve('x')
        .catch((e: unknown) => e);
      assert.ok(err instanceof cls, `${status}: ${String(err)}`);
      assert.ok(err instanceof DroverError);
      assert.equal(err.status, status);
      assert.equal(seen.length, 1, `${status} is not retried`);
    }
    const { url } = await serve((_req, res) =>
      json(res, 400, errorBody('invalid_request', 'the request has 1 problem', [{ path: 'items[0].id', message: 'duplicate', line: 3 }])),
    );
    const err = await fast(url)
      .batches.submit({ model: 'm', items: [{ id: 'a' }] })
      .catch((e: unknown) => e);
    assert.ok(err instanceof ValidationError);
    assert.deepEqual(err.issues, [{ path: 'items[0].id', message: 'duplicate', line: 3 }]);
  });

  test('a submit without idempotency_key gets one, and every retry carries the same key', async () => {
    const { url, seen } = await serve((_req, res, n) =>
      n === 1 ? json(res, 503, errorBody('unavailable', 'x')) : json(res, 202, { ...BATCH, status: 'queued' }),
    );
    await fast(url, { apiKey: 'dk-secret' }).batches.submit({ model: 'gpt-4.1-mini', items: [{ id: 'a', content: 'x' }] });
    assert.equal(seen.length, 2);
    const keys = seen.map((s) => JSON.parse(s.body).idempotency_key);
    assert.match(keys[0], /^drover-client-/);
    assert.equal(keys[0], keys[1]);
    assert.equal(seen[0]?.headers.authorization, 'Bearer dk-secret');
    assert.equal(seen[0]?.headers['content-type'], 'application/json');

    const own = await serve((_req, res) => json(res, 202, BATCH));
    await fast(own.url).batches.submit({ model: 'gpt-4.1-mini', idempotency_key: 'mine-1', items: [{ id: 'a', content: 'x' }] });
    assert.equal(JSON.parse(own.seen[0]!.body).idempotency_key, 'mine-1', 'a given key is kept');
    await assert.rejects(fast(own.url).batches.submit({ model: 'm', items: [], dry_run: true } as never), /estimate/);
  });

  test('NDJSON: settings in the query string; an array body is retried, a generator is not', async () => {
    const { url, seen } = await serve((_req, res, n) => (n === 1 ? json(res, 503, errorBody('unavailable', 'x')) : json(res, 202, BATCH)));
    const settings = {
      model: 'gpt-4.1-mini',
      chunk_size: 10,
      metadata: { a: 1 },
      response_format: { type: 'text' as const },
      enable_citations: false,
    };
    await fast(url).batches.submitNdjson(settings, [
      { id: 'a', content: 'x' },
      { id: 'b', content: 'y' },
    ]);
    assert.equal(seen.length, 2);
    assert.equal(seen[1]?.body, '{"id":"a","content":"x"}\n{"id":"b","content":"y"}\n', 'the retry sent the items again');
    assert.equal(seen[1]?.headers['content-type'], 'application/x-ndjson');
    const q = new URL(seen[1]!.url, url).searchParams;
    assert.equal(q.get('model'), 'gpt-4.1-mini');
    assert.equal(q.get('chunk_size'), '10');
    assert.equal(q.get('metadata'), '{"a":1}');
    assert.equal(q.get('response_format'), '{"type":"text"}');
    assert.equal(q.get('enable_citations'), 'false');
    assert.match(q.get('idempotency_key') ?? '', /^drover-client-/);

    const once = await serve((_req, res) => json(res, 503, errorBody('unavailable', 'x')));
    async function* gen() {
      yield { id: 'a', content: 'x' };
    }
    await assert.rejects(fast(once.url).batches.submitNdjson({ model: 'm' }, gen()), ServerError);
    assert.equal(once.seen.length, 1, 'a generator cannot be replayed, so no retry');

    // An iterator that throws: the caller's own error comes back, not a connection error.
    const sink = await serve((_req, res) => json(res, 202, BATCH));
    async function* broken() {
      yield { id: 'a', content: 'x' };
      throw new Error('source went away');
    }
    await assert.rejects(fast(sink.url).batches.submitNdjson({ model: 'm' }, broken()), /source went away/);
  });

  test('connection errors are retried, then thrown as ConnectionError; a silent server is a TimeoutError', async () => {
    // A port that was just free: nothing listens there.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const started = Date.now();
    const err = await fast(dead, { maxRetries: 2 })
      .batches.retrieve('x')
      .catch((e: unknown) => e);
    assert.ok(err instanceof ConnectionError, String(err));
    assert.ok(!(err instanceof TimeoutError));
    assert.equal(err.status, undefined);
    assert.match(err.message, /ECONNREFUSED/);
    assert.ok(Date.now() - started < 5_000);

    const silent = await serve(() => {});
    const timeout = await fast(silent.url, { timeoutMs: 200, maxRetries: 1 })
      .batches.retrieve('x')
      .catch((e: unknown) => e);
    assert.ok(timeout instanceof TimeoutError, String(timeout));
    assert.equal(silent.seen.length, 2, 'a timeout is retried like a connection error');

    const ac = new AbortController();
    const aborted = fast(silent.url).batches.retrieve('x', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('caller gave up')), 50);
    await assert.rejects(aborted, /caller gave up/);
  });
});

describe('responses are checked', () => {
  test('a mismatching body is a DroverResponseError naming the fields, and is not retried', async () => {
    const { url, seen } = await serve((_req, res) => json(res, 200, { ...BATCH, status: 'exploded', counts: { total: '2' } }));
    const err = await fast(url)
      .batches.retrieve('batch_1')
      .catch((e: unknown) => e);
    assert.ok(err instanceof DroverResponseError, String(err));
    assert.equal(err.status, 200);
    assert.ok(err.issues?.some((i) => i.path === 'status'));
    assert.ok(err.issues?.some((i) => i.path === 'counts.total'));
    assert.match(err.message, /GET \/v1\/batches\/batch_1/);
    assert.equal(seen.length, 1);

    const html = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>proxy login</html>');
    });
    const notJson = await fast(html.url)
      .batches.retrieve('x')
      .catch((e: unknown) => e);
    assert.ok(notJson instanceof DroverResponseError);
    assert.match(notJson.message, /not JSON/);
  });

  test('iterOutput reads lines as they come and checks each row', async () => {
    const row = (id: string) => ({
      id,
      status: 'succeeded',
      output: { a: 1 },
      error: null,
      usage: null,
      cost_usd: 0,
      path: 'batch',
      metadata: null,
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const { url, seen } = await serve(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      // A line split across writes, CRLF endings, and the rest only after the first row was read.
      const text = JSON.stringify(row('r1')) + '\r\n' + JSON.stringify(row('r2'));
      res.write(text.slice(0, 50));
      res.write(text.slice(50) + '\n');
      await gate;
      res.end(JSON.stringify(row('r3')) + '\n' + JSON.stringify({ id: 'r4' }) + '\n');
    });
    const got: string[] = [];
    const err = await (async () => {
      for await (const r of fast(url).batches.iterOutput('b', { status: 'succeeded' })) {
        got.push(r.id);
        if (got.length === 2) release();
      }
    })().catch((e: unknown) => e);
    assert.deepEqual(got, ['r1', 'r2', 'r3'], 'rows arrive before the body ends');
    assert.ok(err instanceof DroverResponseError, String(err));
    assert.match(err.message, /line 4/);
    assert.equal(new URL(seen[0]!.url, url).search, '?format=jsonl&status=succeeded');
  });

  test('a streamed export times out when the server stalls, never because the caller is slow', async () => {
    const row = (id: string) =>
      JSON.stringify({ id, status: 'pending', output: null, error: null, usage: null, cost_usd: 0, path: null, metadata: null }) + '\n';
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(row('a') + row('b'));
      setTimeout(() => res.write(row('c')), 50);
      // …and then nothing more: the body never ends.
    });
    const client = fast(url, { timeoutMs: 300 });
    const got: string[] = [];
    const err = await (async () => {
      for await (const r of client.batches.iterOutput('b')) {
        got.push(r.id);
        await new Promise((resolve) => setTimeout(resolve, 400)); // slower than timeoutMs
      }
    })().catch((e: unknown) => e);
    assert.deepEqual(got, ['a', 'b', 'c']);
    assert.ok(err instanceof TimeoutError, String(err));
  });

  test('splitLines handles multi-byte characters split across chunks', async () => {
    const bytes = new TextEncoder().encode('{"t":"héllo ✓"}\n{"t":"b"}');
    async function* chunks() {
      for (const b of bytes) yield new Uint8Array([b]);
    }
    const lines: string[] = [];
    for await (const l of splitLines(chunks())) lines.push(l);
    assert.deepEqual(lines, ['{"t":"héllo ✓"}', '{"t":"b"}']);
  });
});

describe('withSchema', () => {
  test('makes a closed JSON Schema, strict only when the provider can take it', () => {
    const strict = withSchema(z.object({ a: z.string(), b: z.array(z.object({ c: z.number().nullable() })) }), { name: 'x' });
    assert.deepEqual(strict.response_format, {
      type: 'json_schema',
      json_schema: {
        name: 'x',
        strict: true,
        schema: {
          type: 'object',
          properties: {
            a: { type: 'string' },
            b: {
              type: 'array',
              items: {
                type: 'object',
                properties: { c: { anyOf: [{ type: 'number' }, { type: 'null' }] } },
                required: ['c'],
                additionalProperties: false,
              },
            },
          },
          required: ['a', 'b'],
          additionalProperties: false,
        },
      },
    });
    const loose = withSchema(z.object({ a: z.string().optional() }));
    assert.equal('strict' in (loose.response_format as { json_schema: object }).json_schema, false);
    assert.equal(strictCompatible(loose.jsonSchema), false);
    assert.throws(() => withSchema(z.string()), /object schema at the root/);
  });

  test('parseRow applies the schema (transforms included) and rejects outputs that break it', () => {
    const s = withSchema(z.object({ when: z.string().transform((v) => new Date(v)) }));
    assert.deepEqual(s.jsonSchema, {
      type: 'object',
      properties: { when: { type: 'string' } },
      required: ['when'],
      additionalProperties: false,
    });
    const base: ResultView = {
      id: 'i1',
      status: 'succeeded',
      output: { when: '2026-01-02T00:00:00Z' },
      error: null,
      usage: null,
      cost_usd: 0,
      path: 'batch',
      metadata: null,
    };
    const typed = s.parseRow(base);
    assert.ok(typed.status === 'succeeded' && typed.output.when instanceof Date);
    const failed = s.parseRow({ ...base, status: 'failed', output: null, error: { code: 'server_error', message: 'x' } });
    assert.equal(failed.status, 'failed');
    assert.throws(
      () => s.parseRow({ ...base, output: { when: 3 } }),
      (e: unknown) => e instanceof OutputParseError && e.itemId === 'i1' && e.issues?.[0]?.path === 'when',
    );
  });
});
