import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { csvRecords } from '../../domain/csv-records.js';
import { useStack } from '../helpers/stack.js';

/**
 * Hostile and malformed input at the edge: each is refused with a 4xx in the one error shape,
 * naming the place (field path, line, parameter or header), and leaves nothing behind: no batch,
 * item or file row and no workflow. The limits are set low here (README, *Limits*) so the 413s
 * are cheap to reach.
 */

const LIMITS = {
  DROVER_JSON_LIMIT: '40mb',
  DROVER_MAX_UPLOAD_BYTES: '1000000',
  DROVER_MAX_ITEMS: '1000',
  DROVER_MAX_EVENT_STREAMS: '2',
};

interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

type Send = (path: string, body?: Buffer | string, headers?: Record<string, string>, method?: string) => Promise<Answer>;

interface Case {
  name: string;
  /** What was wrong before this check existed, for the record. */
  before: string;
  send: (send: Send) => Promise<Answer>;
  status: number;
  type: string;
  /** The issue that must name the place. */
  place: { path: string | RegExp; line?: number; message?: RegExp };
}

const JSON_TYPE = { 'content-type': 'application/json' };
const NDJSON_TYPE = { 'content-type': 'application/x-ndjson' };
const CSV_TYPE = { 'content-type': 'text/csv' };
const ok = { model: 'gpt-4.1-mini', items: [{ id: 'a', content: 'hello' }] };
const json = (v: unknown) => JSON.stringify(v);
const deepJson = (levels: number) => '{"n":'.repeat(levels) + '1' + '}'.repeat(levels);
const withBytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const lines = (n: number) => Array.from({ length: n }, (_, i) => json({ id: `r${i}`, content: 'x' })).join('\n') + '\n';

const cases: Case[] = [
  // NUL: PostgreSQL refuses U+0000 in text and jsonb, and the statement failed as a 500.
  {
    name: 'NUL in a batch id',
    before: '500',
    send: (s) => s('/v1/batches/%00', undefined, {}, 'GET'),
    status: 400,
    type: 'invalid_request',
    place: { path: 'id' },
  },
  {
    name: 'NUL in an item id parameter',
    before: '500 for a batch that exists (404 for this one)',
    send: (s) => s('/v1/batches/batch_0/items/%00', undefined, {}, 'GET'),
    status: 400,
    type: 'invalid_request',
    place: { path: 'item_id' },
  },
  {
    name: 'NUL in a file id',
    before: '500',
    send: (s) => s('/v1/files/file_%00', undefined, {}, 'GET'),
    status: 400,
    type: 'invalid_request',
    place: { path: 'id' },
  },
  {
    name: 'NUL in the id of PATCH limits',
    before: '500',
    send: (s) => s('/v1/batches/%00/limits', json({ max_cost_usd: 5 }), JSON_TYPE, 'PATCH'),
    status: 400,
    type: 'invalid_request',
    place: { path: 'id' },
  },
  {
    name: 'NUL in an item id',
    before: '500',
    send: (s) => s('/v1/batches', json({ ...ok, items: [{ id: 'a\u0000', content: 'x' }] }), JSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: 'items[0].id', message: /NUL/ },
  },
  {
    name: 'NUL in content',
    before: '500',
    send: (s) => s('/v1/batches', json({ ...ok, items: [{ id: 'a', content: 'x\u0000y' }] }), JSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: 'items[0].content', message: /NUL/ },
  },
  {
    name: 'NUL in a metadata key',
    before: '500',
    send: (s) => s('/v1/batches', json({ ...ok, metadata: { 'k\u0000': 1 } }), JSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: /^metadata\.k/, message: /NUL/ },
  },
  {
    name: 'NUL in input_file_id',
    before: '500',
    send: (s) => s('/v1/batches', json({ model: 'gpt-4.1-mini', input_file_id: 'file_\u0000' }), JSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: 'input_file_id' },
  },
  {
    name: 'NUL in an NDJSON line',
    before: '500',
    send: (s) => s('/v1/batches?model=gpt-4.1-mini', '{"id":"a","content":"x"}\n{"id":"b","content":"\\u0000"}\n', NDJSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: 'content', line: 2 },
  },
  {
    name: 'NUL in a query-string setting',
    before: '500',
    send: (s) => s('/v1/batches?model=gpt-4.1-mini&idempotency_key=k%00', '{"id":"a","content":"x"}\n', NDJSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: 'idempotency_key' },
  },
  {
    name: 'a raw NUL byte in an uploaded CSV',
    before: '201, then a 500 at submit',
    send: (s) => s('/v1/files?format=csv', withBytes('id,content\n1,a', [0], 'b\n'), CSV_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: '(row)', line: 2 },
  },
  {
    name: 'a raw NUL byte in an uploaded JSONL file',
    before: '500',
    send: (s) => s('/v1/files?format=jsonl', withBytes('{"id":"a","content":"x"}\n{"id":"b","content":"', [0], '"}\n'), NDJSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: '(line)', line: 2 },
  },
  // Deep nesting overflowed the stack of the recursive writers after intake.
  {
    name: 'metadata nested 10,000 levels',
    before: '500 (stack overflow in store/items.ts)',
    send: (s) => s('/v1/batches', `{"model":"gpt-4.1-mini","items":[{"id":"a","content":"x","metadata":${deepJson(10_000)}}]}`, JSON_TYPE),
    status: 413,
    type: 'limit_exceeded',
    place: { path: /^items\[0\]\.metadata(\.n)+$/, message: /more than 64 levels/ },
  },
  {
    name: 'metadata nested 10,000 levels, to /validate',
    before: '200 valid: true',
    send: (s) =>
      s('/v1/batches/validate', `{"model":"gpt-4.1-mini","items":[{"id":"a","content":"x","metadata":${deepJson(10_000)}}]}`, JSON_TYPE),
    status: 413,
    type: 'limit_exceeded',
    place: { path: /^items\[0\]\.metadata/ },
  },
  {
    name: 'an NDJSON line nested 10,000 levels',
    before: '500',
    send: (s) => s('/v1/batches?model=gpt-4.1-mini', `{"id":"a","content":"x","metadata":${deepJson(10_000)}}\n`, NDJSON_TYPE),
    status: 413,
    type: 'limit_exceeded',
    place: { path: /^metadata/, line: 1 },
  },
  {
    name: 'a response_format schema nested 100 levels in the query string',
    before: 'not bounded',
    send: (s) =>
      s(
        `/v1/batches?model=gpt-4.1-mini&response_format=${encodeURIComponent(`{"type":"json_schema","json_schema":{"name":"x","schema":${deepJson(100)}}}`)}`,
        '{"id":"a","content":"x"}\n',
        NDJSON_TYPE,
      ),
    status: 413,
    type: 'limit_exceeded',
    place: { path: /^response_format\.json_schema\.schema/ },
  },
  // The edge of HTTP itself.
  {
    name: 'malformed percent-encoding in the path',
    before: '500',
    send: (s) => s('/v1/batches/%E0%A4%A', undefined, {}, 'GET'),
    status: 400,
    type: 'invalid_request',
    place: { path: '(path)', message: /%E0%A4%A/ },
  },
  {
    name: 'Content-Encoding gzip on a JSON body that is not gzip',
    before: '500',
    send: (s) => s('/v1/batches', json(ok), { ...JSON_TYPE, 'content-encoding': 'gzip' }),
    status: 400,
    type: 'invalid_request',
    place: { path: 'Content-Encoding' },
  },
  {
    name: 'Content-Encoding gzip on an NDJSON body that is not gzip',
    before: '202 (the header ignored)',
    send: (s) => s('/v1/batches?model=gpt-4.1-mini', '{"id":"a","content":"x"}\n', { ...NDJSON_TYPE, 'content-encoding': 'gzip' }),
    status: 400,
    type: 'invalid_request',
    place: { path: 'Content-Encoding' },
  },
  {
    name: 'an unsupported Content-Encoding on an upload',
    before: '201 (the header ignored)',
    send: (s) => s('/v1/files?format=jsonl', '{"id":"a","content":"x"}\n', { ...NDJSON_TYPE, 'content-encoding': 'br' }),
    status: 415,
    type: 'unsupported_encoding',
    place: { path: 'Content-Encoding' },
  },
  {
    name: 'a garbage cursor',
    before: '500 after about 21 s',
    send: (s) => s('/v1/batches?cursor=AAAAgarbage', undefined, {}, 'GET'),
    status: 400,
    type: 'invalid_request',
    place: { path: 'cursor' },
  },
  {
    name: 'a forged cursor of the right form',
    before: '400 (the old cursor had no dot; a forged old-form cursor was the 500 above)',
    send: (s) => s('/v1/batches?cursor=CgRub3BlEgR0aGVyZQ.AAAAAAAAAAAAAAAAAAAAAA', undefined, {}, 'GET'),
    status: 400,
    type: 'invalid_request',
    place: { path: 'cursor' },
  },
  {
    name: 'POST /v1/completions/classify with dry_run',
    before: '500',
    send: (s) =>
      s(
        '/v1/completions/classify',
        json({ model: 'gpt-4.1-mini', categories: ['a', 'b'], dry_run: true, items: [{ content: 'x' }] }),
        JSON_TYPE,
      ),
    status: 400,
    type: 'invalid_request',
    place: { path: 'dry_run', message: /estimate/ },
  },
  // Invalid UTF-8 was decoded with U+FFFD in place of the bad bytes, and stored.
  {
    name: 'invalid UTF-8 in a JSON body',
    before: '202',
    send: (s) => s('/v1/batches', withBytes('{"model":"gpt-4.1-mini",\n"items":[{"id":"a","content":"', [0xff, 0xfe], '"}]}'), JSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: '(body)', line: 2, message: /UTF-8 at byte 55/ },
  },
  {
    name: 'invalid UTF-8 in an NDJSON body',
    before: '202',
    send: (s) =>
      s('/v1/batches?model=gpt-4.1-mini', withBytes('{"id":"a","content":"x"}\n{"id":"b","content":"', [0xc3, 0x28], '"}\n'), NDJSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: '(line)', line: 2, message: /UTF-8 at byte 46/ },
  },
  {
    name: 'invalid UTF-8 in an uploaded file',
    before: '201',
    send: (s) => s('/v1/files?format=jsonl', withBytes('{"id":"a","content":"', [0xed, 0xa0, 0x80], '"}\n'), NDJSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: '(line)', line: 1, message: /UTF-8 at byte 21/ },
  },
  {
    name: 'invalid UTF-8 in an uploaded CSV (multipart)',
    before: '201',
    send: (s) =>
      s(
        '/v1/files',
        withBytes(
          '--XX\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\nid,content\n1,ok\n2,',
          [0xff],
          '\n\r\n--XX--\r\n',
        ),
        { 'content-type': 'multipart/form-data; boundary=XX' },
      ),
    status: 400,
    type: 'invalid_request',
    place: { path: '(line)', line: 3 },
  },
  // CSV read as its author did not mean it.
  {
    name: 'CSV with a ragged row',
    before: '201 (extra fields dropped)',
    send: (s) => s('/v1/files?format=csv', 'id,content\n1,a\n2,b,EXTRA\n3,c\n', CSV_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: '(row)', line: 3, message: /3 fields; the header has 2/ },
  },
  {
    name: 'CSV with a short row',
    before: '201 (missing fields empty)',
    send: (s) => s('/v1/files?format=csv', 'id,content,tone\n1,a,dry\n2,b\n', CSV_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: '(row)', line: 3 },
  },
  {
    name: 'CSV with an unterminated quote',
    before: '201 (the rows after it swallowed into one field)',
    send: (s) => s('/v1/files?format=csv', 'id,content\n1,a\n2,"b\n3,c\n4,d\n', CSV_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: '(row)', line: 3, message: /never closed/ },
  },
  // Attachments the provider would fetch from where the caller says.
  {
    name: 'an image url of file:///',
    before: '202',
    send: (s) =>
      s(
        '/v1/batches',
        json({ ...ok, items: [{ id: 'a', content: 'x', attachments: [{ type: 'image', url: 'file:///etc/passwd' }] }] }),
        JSON_TYPE,
      ),
    status: 400,
    type: 'invalid_request',
    place: { path: 'items[0].attachments[0].url', message: /https/ },
  },
  {
    name: 'an image url of http:// inside messages',
    before: '202',
    send: (s) =>
      s(
        '/v1/batches',
        json({
          model: 'gpt-4.1-mini',
          items: [{ id: 'a', messages: [{ role: 'user', content: [{ type: 'image', url: 'http://169.254.169.254/latest' }] }] }],
        }),
        JSON_TYPE,
      ),
    status: 400,
    type: 'invalid_request',
    place: { path: 'items[0].messages[0].content[0].url' },
  },
  {
    name: 'a document url of file:///',
    before: '202',
    send: (s) =>
      s(
        '/v1/batches',
        json({
          model: 'claude-sonnet-4-5',
          items: [{ id: 'a', content: 'x', attachments: [{ type: 'document', media_type: 'application/pdf', url: 'file:///etc/passwd' }] }],
        }),
        JSON_TYPE,
      ),
    status: 400,
    type: 'invalid_request',
    place: { path: 'items[0].attachments[0].url' },
  },
  {
    name: 'an image data: URL to a provider that takes none',
    before: '202 (failed at the provider)',
    send: (s) =>
      s(
        '/v1/batches',
        json({
          model: 'claude-sonnet-4-5',
          items: [{ id: 'a', content: 'x', attachments: [{ type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' }] }],
        }),
        JSON_TYPE,
      ),
    status: 400,
    type: 'invalid_request',
    place: { path: 'items[0].attachments', message: /data: URLs/ },
  },
  // More than the model can read.
  {
    name: 'a 25 MB item for a 1M-token model',
    before: '202, "succeeded" for $2.50',
    send: (s) =>
      s('/v1/batches', json({ model: 'gpt-4.1-mini', items: [{ id: 'big', content: 'lorem ipsum '.repeat(2_200_000) }] }), JSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: 'items[0].content', message: /item "big" is about [\d,]+ tokens; gpt-4\.1-mini reads at most 1,000,000 tokens/ },
  },
  {
    name: 'an item over a 128k model, counted by its tokenizer',
    before: '202',
    send: (s) => s('/v1/batches?model=gpt-4o-mini', json({ id: 'long', content: 'token '.repeat(140_000) }) + '\n', NDJSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: 'content', line: 1, message: /gpt-4o-mini reads at most 128,000 tokens/ },
  },
  {
    name: 'an item whose prompt and max_output_tokens exceed the context',
    before: '202',
    send: (s) => s('/v1/batches', json({ ...ok, model: 'gpt-4o-mini', max_output_tokens: 127_999 }), JSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: 'items[0].content', message: /plus 127,999 for max_output_tokens/ },
  },
  // File names are labels, not paths.
  {
    name: 'a file name with ../',
    before: '201, stored as ../../etc/passwd',
    send: (s) => s('/v1/files?filename=../../etc/passwd&format=jsonl', '{"id":"a","content":"x"}\n', NDJSON_TYPE),
    status: 400,
    type: 'invalid_request',
    place: { path: 'filename' },
  },
  {
    name: 'a multipart file name with ..\\',
    before: '201',
    send: (s) =>
      s(
        '/v1/files',
        '--XX\r\nContent-Disposition: form-data; name="format"\r\n\r\njsonl\r\n--XX\r\nContent-Disposition: form-data; name="filename"\r\n\r\n..\\..\\boot.ini\r\n--XX\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{"id":"a","content":"x"}\n\r\n--XX--\r\n',
        { 'content-type': 'multipart/form-data; boundary=XX' },
      ),
    status: 400,
    type: 'invalid_request',
    place: { path: 'filename' },
  },
  // Limits: a 413 naming the limit and the way out.
  {
    name: 'a JSON body over DROVER_JSON_LIMIT',
    before: '413 without the way out',
    send: (s) => s('/v1/batches', Buffer.alloc(41 * 1024 * 1024, 0x20), JSON_TYPE),
    status: 413,
    type: 'body_too_large',
    place: { path: '(body)', message: /40mb/ },
  },
  {
    name: 'JSON items over DROVER_MAX_ITEMS',
    before: '202',
    send: (s) =>
      s(
        '/v1/batches',
        json({ model: 'gpt-4.1-mini', items: Array.from({ length: 1001 }, (_, i) => ({ id: `i${i}`, content: 'x' })) }),
        JSON_TYPE,
      ),
    status: 413,
    type: 'limit_exceeded',
    place: { path: 'items', message: /1,000 items/ },
  },
  {
    name: 'NDJSON lines over DROVER_MAX_ITEMS',
    before: '202',
    send: (s) => s('/v1/batches?model=gpt-4.1-mini', lines(1001), NDJSON_TYPE),
    status: 413,
    type: 'limit_exceeded',
    place: { path: '(line)', line: 1001 },
  },
  {
    name: 'an NDJSON body over DROVER_MAX_UPLOAD_BYTES',
    before: '202',
    send: (s) => s('/v1/batches?model=gpt-4.1-mini', json({ id: 'a', content: 'x'.repeat(1_100_000) }) + '\n', NDJSON_TYPE),
    status: 413,
    type: 'limit_exceeded',
    place: { path: '(body)', message: /1,000,000 bytes/ },
  },
  {
    name: 'a gzip NDJSON body that inflates over DROVER_MAX_UPLOAD_BYTES',
    before: '400 (the compressed bytes read as text)',
    send: (s) =>
      s('/v1/batches?model=gpt-4.1-mini', gzipSync(json({ id: 'a', content: ' '.repeat(5_000_000) }) + '\n'), {
        ...NDJSON_TYPE,
        'content-encoding': 'gzip',
      }),
    status: 413,
    type: 'limit_exceeded',
    place: { path: '(body)' },
  },
  {
    name: 'an uploaded file over DROVER_MAX_UPLOAD_BYTES',
    before: '201',
    send: (s) => s('/v1/files?format=jsonl', json({ id: 'a', content: 'x'.repeat(1_100_000) }) + '\n', NDJSON_TYPE),
    status: 413,
    type: 'limit_exceeded',
    place: { path: '(body)' },
  },
  {
    name: 'an uploaded file over DROVER_MAX_ITEMS',
    before: '201',
    send: (s) => s('/v1/files?format=jsonl', lines(1001), NDJSON_TYPE),
    status: 413,
    type: 'limit_exceeded',
    place: { path: '(line)', line: 1001 },
  },
  {
    name: 'a completion that would wait over 600 s',
    before: '400',
    send: (s) => s('/v1/completions/summarize?timeout_seconds=3600', json({ model: 'gpt-4.1-mini', items: [{ content: 'x' }] }), JSON_TYPE),
    status: 413,
    type: 'limit_exceeded',
    place: { path: 'timeout_seconds', message: /600/ },
  },
];

describe('hostile input', () => {
  const stack = useStack({ worker: true, api: LIMITS, processingMs: 60_000 });

  /** Raw HTTP, so a path keeps its bad escapes and a body its bad bytes. */
  const send: Send = (path, body, headers = {}, method = 'POST') =>
    new Promise((resolve, reject) => {
      const url = new URL(stack.api.url);
      const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers: { ...stack.auth, ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = null;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = null;
          }
          resolve({ status: res.statusCode!, body: parsed, text, headers: res.headers });
        });
      });
      // The server may answer and close before a large body is sent: the answer is what counts.
      req.on('error', (err) => (req.writableEnded ? undefined : reject(err)));
      req.end(body);
    });

  for (const c of cases) {
    test(`${c.name} → ${c.status} ${c.type} naming the place, nothing stored (was: ${c.before})`, async () => {
      const before = await stack.storedCounts();
      const started = Date.now();
      const res = await c.send(send);
      const ms = Date.now() - started;
      assert.equal(res.status, c.status, res.text.slice(0, 500));
      assert.equal(res.body?.error?.type, c.type, res.text.slice(0, 500));
      assert.equal(typeof res.body.error.message, 'string');
      const issues: Array<{ path: string; line?: number; message: string }> = res.body.error.issues ?? [];
      const hit = issues.find(
        (i) =>
          (typeof c.place.path === 'string' ? i.path === c.place.path : c.place.path.test(i.path)) &&
          (c.place.line === undefined || i.line === c.place.line) &&
          (!c.place.message || c.place.message.test(i.message) || c.place.message.test(res.body.error.message)),
      );
      assert.ok(
        hit,
        `expected an issue at ${String(c.place.path)}${c.place.line ? ` line ${c.place.line}` : ''}; got ${JSON.stringify(issues).slice(0, 500)}`,
      );
      assert.ok(ms < 10_000, `answered in ${ms} ms`);
      assert.deepEqual(await stack.storedCounts(), before, 'a refused request leaves nothing behind');
    });
  }

  test('a 1 MB item that is one long word is counted in well under a second (it took about ten minutes)', async () => {
    const started = Date.now();
    const res = await stack.post('/v1/batches/estimate', { model: 'gpt-4.1-mini', items: [{ id: 'w', content: 'x'.repeat(1_000_000) }] });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.ok(res.body.input_tokens >= 125_000, String(res.body.input_tokens));
    assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);
  });

  test('the same idempotency_key: the same request replays without the webhook secret; another request is a 409 naming the batch', async () => {
    const first = { ...ok, idempotency_key: 'hostile-k1', webhook_url: 'https://example.com/hooks', chunk_size: 10 };
    const created = await stack.post('/v1/batches', first);
    assert.equal(created.status, 202, created.text);
    const secret: string = created.body.webhook_secret;
    assert.match(secret, /^whsec_[0-9a-f]{48}$/, 'the first answer carries the secret');
    const { rows } = await stack.db.query('SELECT webhook_secret, request_hash FROM batches WHERE id = $1', [created.body.id]);
    assert.match(rows[0].webhook_secret, /^sealed:v1:[0-9a-f]{8}:/, 'stored sealed');
    assert.ok(!rows[0].webhook_secret.includes(secret.slice(6)), 'the secret is not in the row');
    assert.match(rows[0].request_hash, /^[0-9a-f]{64}$/);

    // Key order and defaults written out do not make a different request.
    const reordered = {
      chunk_size: 10,
      items: first.items,
      webhook_url: first.webhook_url,
      max_attempts: 3,
      idempotency_key: 'hostile-k1',
      model: first.model,
    };
    const replay = await stack.post('/v1/batches', reordered);
    assert.equal(replay.status, 200, replay.text);
    assert.equal(replay.body.id, created.body.id);
    assert.equal(replay.body.webhook_secret, undefined, 'a replay never shows the secret');

    const before = await stack.storedCounts();
    for (const other of [
      { ...first, items: [{ id: 'a', content: 'something else' }] },
      { ...first, model: 'gpt-4o-mini' },
      { ...first, max_cost_usd: 5 },
    ]) {
      const res = await stack.post('/v1/batches', other);
      assert.equal(res.status, 409, res.text);
      assert.equal(res.body.error.type, 'idempotency_conflict');
      assert.match(res.body.error.message, new RegExp(created.body.id));
      assert.equal(res.body.error.issues[0].path, 'idempotency_key');
    }
    // The NDJSON form under the same key with other items is refused too.
    const nd = await send('/v1/batches?model=gpt-4.1-mini&idempotency_key=hostile-k1', '{"id":"z","content":"z"}\n', NDJSON_TYPE);
    assert.equal(nd.status, 409, nd.text);
    assert.deepEqual(await stack.storedCounts(), before);
    await stack.client.workflow.getHandle(created.body.id).terminate('intake test');
  });

  test('two submits racing with one key and different requests: one batch, the other refused, never a replay of the wrong request', async () => {
    for (let round = 0; round < 4; round++) {
      const key = `race-${round}`;
      const body = (content: string) => ({
        model: 'gpt-4.1-mini',
        idempotency_key: key,
        items: Array.from({ length: 300 }, (_, i) => ({ id: `r${i}`, content: `${content} ${i}` })),
      });
      const answers = await Promise.all([stack.post('/v1/batches', body('first')), stack.post('/v1/batches', body('second'))]);
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [202, 409], answers.map((a) => a.text.slice(0, 200)).join('\n'));
      const refused = answers.find((a) => a.status === 409)!;
      assert.equal(refused.body.error.type, 'idempotency_conflict');
      const created = answers.find((a) => a.status === 202)!;
      await stack.client.workflow.getHandle(created.body.id).terminate('race test');
    }
    // The NDJSON form: the loser's body is read only to compare it.
    const lines = (content: string) =>
      Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: `n${i}`, content: `${content} ${i}` })).join('\n');
    const path = '/v1/batches?model=gpt-4.1-mini&idempotency_key=race-nd';
    const answers = await Promise.all([send(path, lines('first'), NDJSON_TYPE), send(path, lines('second'), NDJSON_TYPE)]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [202, 409], answers.map((a) => a.text.slice(0, 200)).join('\n'));
    await stack.client.workflow.getHandle(answers.find((a) => a.status === 202)!.body.id).terminate('race test');
  });

  test('an NDJSON submit replays by key only with the same lines', async () => {
    const body = '{"id":"a","content":"x"}\n{"id":"b","content":"y"}\n';
    const path = '/v1/batches?model=gpt-4.1-mini&idempotency_key=hostile-nd';
    const created = await send(path, gzipSync(body), { ...NDJSON_TYPE, 'content-encoding': 'gzip' });
    assert.equal(created.status, 202, created.text);
    assert.equal(created.body.counts.total, 2, 'a gzip body is read inflated');
    const again = await send(path, body, NDJSON_TYPE);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.id, created.body.id);
    const other = await send(path, '{"id":"a","content":"x"}\n', NDJSON_TYPE);
    assert.equal(other.status, 409, other.text);
    await stack.client.workflow.getHandle(created.body.id).terminate('intake test');
  });

  test('list cursors: ours page on; an edited one, or one used with another filter, is refused at once', async () => {
    const page = await stack.get('/v1/batches?limit=1');
    assert.equal(page.status, 200, page.text);
    const cursor: string = page.body.next_cursor;
    assert.ok(cursor, 'two batches exist by now, so a first page of one has a cursor');
    const next = await stack.get(`/v1/batches?limit=1&cursor=${cursor}`);
    assert.equal(next.status, 200, next.text);
    assert.notEqual(next.body.data[0]?.id, page.body.data[0]?.id);
    const [token, tag] = cursor.split('.');
    const edited = `${token!.slice(0, -2)}${token!.endsWith('AA') ? 'BB' : 'AA'}.${tag}`;
    for (const path of [`/v1/batches?limit=1&cursor=${edited}`, `/v1/batches?limit=1&status=completed&cursor=${cursor}`]) {
      const started = Date.now();
      const res = await stack.get(path);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error.issues[0].path, 'cursor');
      assert.ok(Date.now() - started < 2000);
    }
  });

  test('event streams per tenant are limited: the next one is a 429 naming the limit, and a closed one frees its place', async () => {
    const created = await stack.post('/v1/batches', { ...ok, mode: 'batch' });
    assert.equal(created.status, 202, created.text);
    const id: string = created.body.id;
    const streams: AbortController[] = [];
    const open = async () => {
      const ctl = new AbortController();
      const res = await fetch(`${stack.api.url}/v1/batches/${id}/events`, { signal: ctl.signal, headers: stack.auth });
      if (res.status === 200) {
        streams.push(ctl);
        const reader = res.body!.getReader();
        await reader.read(); // the first event: the stream is open and counted
      }
      return res;
    };
    try {
      assert.equal((await open()).status, 200);
      assert.equal((await open()).status, 200);
      const third = await open();
      assert.equal(third.status, 429);
      const body = (await third.json()) as any;
      assert.equal(body.error.type, 'too_many_streams');
      assert.match(body.error.message, /at most 2 event streams .*DROVER_MAX_EVENT_STREAMS/);
      streams.shift()!.abort();
      let again: Response | undefined;
      for (let i = 0; i < 50 && again?.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        again = await open();
      }
      assert.equal(again?.status, 200, 'a closed stream frees its place');
    } finally {
      for (const s of streams) s.abort();
      await stack.client.workflow.getHandle(id).terminate('intake test');
    }
  });

  test('CSV exports neutralise formula cells', async () => {
    const ids = ['=HYPERLINK("http://x","y")', '+1+1', '-2+3', '@SUM(A1)', '\tx', 'plain'];
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'realtime',
      items: ids.map((id) => ({ id, content: 'x' })),
    });
    assert.equal(created.status, 202, created.text);
    await stack.waitForBatch(created.body.id);
    const csv = await stack.get(`/v1/batches/${created.body.id}/results?format=csv`);
    assert.equal(csv.status, 200);
    const records: string[][] = [];
    for await (const r of csvRecords(
      (async function* () {
        yield csv.text;
      })(),
    ))
      records.push(r.fields);
    const firstCells = records.slice(1).map((r) => r[0]!);
    assert.deepEqual(firstCells.sort(), ['\'=HYPERLINK("http://x","y")', "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", 'plain'].sort());
    const jsonl = await stack.get(`/v1/batches/${created.body.id}/results?format=jsonl`);
    assert.ok(jsonl.text.includes('"id":"=HYPERLINK'), 'JSONL keeps the ids as sent');
  });
});
