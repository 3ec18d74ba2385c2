import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import { useStack } from '../helpers/stack.js';

const NDJSON = { 'content-type': 'application/x-ndjson' };
const SCHEMA = encodeURIComponent(
  JSON.stringify({
    type: 'json_schema',
    json_schema: {
      name: 'label',
      schema: {
        type: 'object',
        properties: { label: { type: 'string', enum: ['positive', 'negative'] } },
        required: ['label'],
        additionalProperties: false,
      },
    },
  }),
);

/** `n` NDJSON lines; ids and texts carry what COPY's text format must escape (tab, backslash, CR, quotes). */
function lines(n: number, prefix = 'k'): string[] {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({ id: `${prefix}${i}${i % 7 === 0 ? '\t\\x' : ''}`, content: `review ${i}: "ok"\\ \r\n\tfine`, metadata: { n: i } }),
  );
}

const ids = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).id as string);

describe('bulk intake (COPY) and export', () => {
  const stack = useStack({ processingMs: 0, worker: true });

  test('a bad line deep in a large NDJSON body is refused with its line and field, and nothing is stored', async () => {
    const before = await stack.storedCounts();
    const body = lines(30_000);
    // Far past the first COPY data sent, so the refusal aborts a COPY under way.
    body[25_000] = JSON.stringify({ id: 'bad', content: 42 });
    body[27_499] = '{"id": "broken"';
    const res = await stack.request('POST', '/v1/batches?model=gpt-4.1-mini', body.join('\n'), NDJSON);
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(
      res.body.error.issues.map((i: { line: number; path: string }) => [i.line, i.path]),
      [
        [25_001, 'content'],
        [27_500, '(line)'],
      ],
    );
    assert.deepEqual(await stack.storedCounts(), before);
    // The connection the COPY held is whole again: the next submit is stored.
    const ok = await stack.request('POST', '/v1/batches?model=gpt-4.1-mini', lines(3, 'after').join('\n'), NDJSON);
    assert.equal(ok.status, 202, ok.text);
    await stack.client.workflow.getHandle(ok.body.id).terminate('test');
  });

  test('an upload cut off mid-body leaves no batch and no items behind', async () => {
    const before = await stack.storedCounts();
    const url = new URL('/v1/batches?model=gpt-4.1-mini', stack.api.url);
    const req = httpRequest(url, { method: 'POST', headers: { ...stack.auth, ...NDJSON, 'transfer-encoding': 'chunked' } });
    req.on('error', () => {});
    const body = lines(40_000).join('\n') + '\n';
    const copying = async () =>
      (
        await stack.db.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'COPY items%' AND state <> 'idle'`,
        )
      ).rows[0].n as number;
    // About half the body, in pieces; once the API is copying it into the store, the connection is dropped.
    for (let at = 0; at < body.length / 2; at += 256 * 1024) req.write(body.slice(at, at + 256 * 1024));
    const started = Date.now() + 30_000;
    while (Date.now() < started && (await copying()) === 0) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await copying(), 1, 'the COPY is under way');
    req.destroy();
    // The API notices the cut, aborts the COPY and rolls back (until then its rows are uncommitted, so unseen).
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await copying()) > 0) await new Promise((r) => setTimeout(r, 250));
    assert.equal(await copying(), 0, 'no COPY is left running');
    assert.deepEqual(await stack.storedCounts(), before);
    // The connection is whole again: the next submit is stored.
    const ok = await stack.request('POST', '/v1/batches?model=gpt-4.1-mini', lines(2, 'later').join('\n'), NDJSON);
    assert.equal(ok.status, 202, ok.text);
    await stack.client.workflow.getHandle(ok.body.id).terminate('test');
  });

  test('every item is stored as sent (escapes intact), and the export returns exactly N rows in order, as JSONL and CSV', async () => {
    const n = 12_345;
    const sent = lines(n);
    const created = await stack.request(
      'POST',
      `/v1/batches?model=gpt-4.1-mini&chunk_size=2500&max_parallel_chunks=5&response_format=${SCHEMA}`,
      sent.join('\n'),
      NDJSON,
    );
    assert.equal(created.status, 202, created.text);
    assert.equal(created.body.counts.total, n);
    const { rows: stored } = await stack.db.query(
      `SELECT item_id, input, metadata FROM items WHERE batch_id = $1 AND seq IN (0, 7, 12344) ORDER BY seq`,
      [created.body.id],
    );
    assert.deepEqual(
      stored.map((r: { item_id: string; input: unknown; metadata: unknown }) => [r.item_id, r.input, r.metadata]),
      [0, 7, 12344].map((i) => {
        const item = JSON.parse(sent[i]!);
        return [item.id, { content: item.content }, item.metadata];
      }),
    );
    const done = await stack.waitForBatch(created.body.id, 240_000);
    assert.equal(done.counts.succeeded, n);

    const expected = sent.map((l) => JSON.parse(l).id as string);
    const jsonl = await stack.request('GET', `/v1/batches/${created.body.id}/results?format=jsonl`);
    assert.equal(jsonl.status, 200);
    assert.deepEqual(ids(jsonl.text), expected);
    const first = JSON.parse(jsonl.text.slice(0, jsonl.text.indexOf('\n')));
    assert.deepEqual(Object.keys(first), ['id', 'status', 'output', 'error', 'usage', 'cost_usd', 'path', 'metadata']);
    assert.deepEqual([first.status, typeof first.output.label, first.metadata], ['succeeded', 'string', { n: 0 }]);

    const csv = await stack.request('GET', `/v1/batches/${created.body.id}/results?format=csv`);
    assert.equal(csv.status, 200);
    const rows = csv.text.split('\r\n');
    assert.equal(rows.at(-1), '', 'the export ends with a whole row');
    assert.equal(rows.length, n + 2, 'a header, N rows and the final line break');
    assert.equal(
      rows[0],
      'id,status,output.label,error_code,error_message,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cost_usd,metadata',
    );
    // Ids without a tab or quote are written bare, in order.
    assert.ok(rows[2]!.startsWith('k1,succeeded,'), rows[2]);
    assert.ok(rows[n]!.startsWith(`k${n - 1},succeeded,`), rows[n]);

    const failed = await stack.request('GET', `/v1/batches/${created.body.id}/results?format=jsonl&status=failed`);
    assert.equal(failed.status, 200);
    assert.equal(failed.text, '');
  });
});
