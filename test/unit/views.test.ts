import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batchView, CSV_COLUMNS, csvCell, csvRow, resultView } from '../../api/views.js';
import type { BatchRow, ResultRow } from '../../store/rows.js';
import type { BatchProgress } from '../../workflows/contracts.js';

/** A small RFC 4180 parser, independent of the code under test, for one record ending in CRLF. */
function parseCsvRecord(text: string): string[] {
  assert.ok(text.endsWith('\r\n'), 'a record ends with CRLF');
  const s = text.slice(0, -2);
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    let cell = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        assert.ok(i < s.length, 'unterminated quoted cell');
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        cell += s[i++];
      }
      assert.ok(i === s.length || s[i] === ',', `junk after a quoted cell at ${i}`);
    } else {
      while (i < s.length && s[i] !== ',') {
        assert.ok(!'"\r\n'.includes(s[i]!), `unquoted cell contains ${JSON.stringify(s[i])}`);
        cell += s[i++];
      }
    }
    cells.push(cell);
    if (i >= s.length) return cells;
    i++; // the comma
  }
}

const usage = { input_tokens: 10, cached_input_tokens: 2, output_tokens: 7, reasoning_tokens: 1 };

function row(over: Partial<BatchRow> = {}): BatchRow {
  return {
    id: 'b_1',
    tenant_id: 't',
    idempotency_key: null,
    status: 'running',
    provider: 'openai',
    model: 'gpt-4o',
    spec: { model: 'gpt-4o' },
    settings: { chunk_size: 10, max_parallel_chunks: 2, max_attempts: 3 },
    metadata: { project: 'x' },
    item_count: 100,
    chunk_count: 10,
    succeeded: 20,
    failed: 5,
    usage,
    error: null,
    created_at: new Date('2025-01-02T03:04:05.678Z'),
    started_at: new Date('2025-01-02T03:05:00.000Z'),
    completed_at: null,
    pricing: { input_per_mtok: 1, output_per_mtok: 2, batch_multiplier: 0.5, source: 'request' },
    max_cost_usd: null,
    deadline: null,
    on_budget_exhausted: 'wait',
    mode: 'auto',
    webhook_url: null,
    webhook_secret: null,
    cost_usd: 0,
    estimated_cost_usd: null,
    ...over,
  };
}

function progress(over: Partial<BatchProgress> = {}): BatchProgress {
  return {
    status: 'running',
    itemCount: 100,
    succeeded: 60,
    failed: 10,
    pending: 30,
    usage: { input_tokens: 99, cached_input_tokens: 0, output_tokens: 50, reasoning_tokens: 0 },
    chunks: { total: 10, completed: 6, running: 2, waiting: 2 },
    cancelled: 0,
    costUsd: 0.25,
    cost: { spentUsd: 0.25, reservedUsd: 0.1, limitUsd: null, estimatedTotalUsd: 0.5 },
    deadlineMs: null,
    paused: false,
    startedAtMs: 0,
    etaMs: null,
    ...over,
  };
}

function result(over: Partial<ResultRow> = {}): ResultRow {
  return {
    seq: 0,
    item_id: 'item-1',
    status: 'succeeded',
    output: 'hello',
    error: null,
    usage,
    cost_usd: 0.001,
    attempt: 1,
    path: 'batch',
    citations: null,
    metadata: null,
    ...over,
  };
}

describe('csvCell', () => {
  test('plain values are unquoted', () => {
    assert.equal(csvCell('abc'), 'abc');
    assert.equal(csvCell(''), '');
    assert.equal(csvCell(42), '42');
    assert.equal(csvCell(' spaced '), ' spaced ');
  });

  test('commas, quotes, CR and LF force quoting; inner quotes are doubled', () => {
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('line1\nline2'), '"line1\nline2"');
    assert.equal(csvCell('cr\rhere'), '"cr\rhere"');
    assert.equal(csvCell('"'), '""""');
  });

  test('round-trips through an RFC 4180 parser', () => {
    for (const v of ['', 'x', 'a,b', '"', '""', 'a"b,c\r\nd', '{"k":"v, w"}', 'é😀,"']) {
      assert.deepEqual(parseCsvRecord(csvCell(v) + '\r\n'), [v], JSON.stringify(v));
    }
  });
});

describe('csvRow', () => {
  test('has one cell per CSV column, in column order, ending in CRLF', () => {
    const r = result({ item_id: 'id-1', output: 'plain text', usage, metadata: { a: 1 } });
    const cells = parseCsvRecord(csvRow(r));
    assert.equal(cells.length, CSV_COLUMNS.length);
    assert.deepEqual(Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, cells[i]])), {
      id: 'id-1',
      status: 'succeeded',
      output: 'plain text',
      error_code: '',
      error_message: '',
      input_tokens: '10',
      cached_input_tokens: '2',
      output_tokens: '7',
      reasoning_tokens: '1',
      cost_usd: '0.001',
      metadata: '{"a":1}',
    });
  });

  test('JSON outputs are JSON-encoded (and quoted), string outputs are kept verbatim', () => {
    const output = { answer: 'yes, "really"', list: [1, 2] };
    const cells = parseCsvRecord(csvRow(result({ output })));
    assert.deepEqual(JSON.parse(cells[CSV_COLUMNS.indexOf('output')]!), output);
    const text = 'multi\nline, with "quotes"';
    assert.equal(parseCsvRecord(csvRow(result({ output: text })))[CSV_COLUMNS.indexOf('output')], text);
  });

  test('non-string JSON scalars are encoded; 0 and false are not blanked', () => {
    assert.equal(parseCsvRecord(csvRow(result({ output: 0 })))[2], '0');
    assert.equal(parseCsvRecord(csvRow(result({ output: false })))[2], 'false');
  });

  test('a failed item: empty output and usage, error code and message filled', () => {
    const r = result({
      status: 'failed',
      output: null,
      usage: null,
      cost_usd: 0,
      error: { code: 'invalid_json', message: 'bad, "very"\nbad' },
    });
    const cells = parseCsvRecord(csvRow(r));
    assert.equal(cells.length, CSV_COLUMNS.length);
    assert.deepEqual(cells, ['item-1', 'failed', '', 'invalid_json', 'bad, "very"\nbad', '', '', '', '', '0', '']);
  });

  test('zero token counts are written as 0, not blank', () => {
    const cells = parseCsvRecord(
      csvRow(result({ usage: { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 } })),
    );
    assert.deepEqual(cells.slice(5, 9), ['0', '0', '0', '0']);
  });

  test('an id with a comma stays in its own column', () => {
    const cells = parseCsvRecord(csvRow(result({ item_id: 'a,b', metadata: { k: 'x,y' } })));
    assert.equal(cells.length, CSV_COLUMNS.length);
    assert.equal(cells[0], 'a,b');
    assert.deepEqual(JSON.parse(cells[CSV_COLUMNS.indexOf('metadata')]!), { k: 'x,y' });
  });
});

describe('resultView', () => {
  test('exposes item_id as id and drops seq and attempt', () => {
    const r = result({ seq: 5, attempt: 2, metadata: { m: 1 } });
    assert.deepEqual(resultView(r), {
      id: 'item-1',
      status: 'succeeded',
      output: 'hello',
      error: null,
      usage,
      cost_usd: 0.001,
      path: 'batch',
      metadata: { m: 1 },
    });
  });
});

describe('batchView', () => {
  test('from a running stored row alone: pending = total − succeeded − failed; dates as ISO strings', () => {
    const v = batchView(row());
    assert.deepEqual(v, {
      id: 'b_1',
      object: 'batch',
      status: 'running',
      model: 'gpt-4o',
      provider: 'openai',
      counts: { total: 100, succeeded: 20, failed: 5, cancelled: 0, pending: 75 },
      usage,
      cost: { spent_usd: 0, reserved_usd: 0, limit_usd: null, estimated_total_usd: 0, cache_saved_usd: 0, prompt_cache_saved_usd: 0 },
      deadline: null,
      chunks: null,
      metadata: { project: 'x' },
      error: null,
      // Only the workflow knows why a running batch waits; a stored row alone says nothing.
      status_reason: null,
      created_at: '2025-01-02T03:04:05.678Z',
      started_at: '2025-01-02T03:05:00.000Z',
      completed_at: null,
      eta: null,
      rerun_of: null,
    });
  });

  test('no chunk plan yet: chunks is null', () => {
    assert.equal(batchView(row({ chunk_count: null, status: 'queued', started_at: null })).chunks, null);
  });

  test('a running row without live progress does not claim its chunks are all completed', () => {
    assert.equal(batchView(row({ status: 'running', chunk_count: 10 })).chunks, null);
  });

  test('a terminal row without live progress reports every chunk completed', () => {
    for (const status of ['completed', 'completed_with_failures', 'failed'] as const) {
      assert.deepEqual(batchView(row({ status, chunk_count: 7 })).chunks, { total: 7, completed: 7, running: 0, waiting: 0 }, status);
    }
  });

  test('store-counted figures (no chunks) override counts and usage but leave chunks unknown', () => {
    const figures = {
      status: 'running' as const,
      succeeded: 30,
      failed: 4,
      cancelled: 0,
      costUsd: 0,
      usage: { ...usage, input_tokens: 1 },
    };
    const v = batchView(row({ status: 'running' }), figures);
    assert.deepEqual(v.counts, { total: 100, succeeded: 30, failed: 4, cancelled: 0, pending: 66 });
    assert.equal(v.usage.input_tokens, 1);
    assert.equal(v.chunks, null);
  });

  test('a finished row: completed_at and error are shown', () => {
    const v = batchView(
      row({ status: 'failed', error: 'planning failed', completed_at: new Date('2025-01-03T00:00:00Z'), succeeded: 0, failed: 100 }),
    );
    assert.equal(v.status, 'failed');
    assert.equal(v.error, 'planning failed');
    assert.equal(v.completed_at, '2025-01-03T00:00:00.000Z');
    assert.deepEqual(v.counts, { total: 100, succeeded: 0, failed: 100, cancelled: 0, pending: 0 });
  });

  test('live progress overrides status, counts, usage and chunks of a running batch', () => {
    const live = progress({ status: 'running' });
    const v = batchView(row({ status: 'running' }), live);
    assert.equal(v.status, 'running');
    assert.deepEqual(v.counts, { total: 100, succeeded: 60, failed: 10, cancelled: 0, pending: 30 });
    assert.deepEqual(v.usage, live.usage);
    assert.deepEqual(v.chunks, live.chunks);
  });

  test('live status wins over a stored non-queued status (workflow finished before the row caught up)', () => {
    assert.equal(batchView(row({ status: 'running' }), progress({ status: 'completed_with_failures' })).status, 'completed_with_failures');
  });

  test('a queued row keeps its queued status even with live progress', () => {
    assert.equal(batchView(row({ status: 'queued' }), progress({ status: 'running' })).status, 'queued');
  });

  test('the ETA is projected again with the API clock: a query answers with the workflow clock of its last change, never in the past', () => {
    const now = Date.now();
    // 70 of 100 done 70 s after the start, projected at the last change (10 s ago) for 20 s ago.
    const stale = progress({ status: 'running', startedAtMs: now - 80_000, etaMs: now - 20_000 });
    const eta = Date.parse(batchView(row({ status: 'running' }), stale).eta!);
    // 70 done in 80 s: 30 more take about 34 s from now.
    assert.ok(eta > now + 30_000 && eta < now + 40_000, `eta ${eta - now} ms from now`);
    assert.equal(batchView(row({ status: 'running' }), progress({ status: 'paused', startedAtMs: now - 80_000, etaMs: null })).eta, null);
    assert.equal(
      batchView(row({ status: 'running' }), progress({ status: 'running', paused: true, startedAtMs: now - 80_000, etaMs: now })).eta,
      null,
    );
  });

  test('pending is computed from the total, not taken from the live pending field', () => {
    const v = batchView(row({ item_count: 100 }), progress({ succeeded: 1, failed: 2, pending: 999 }));
    assert.equal(v.counts.pending, 97);
    assert.equal(v.counts.total, 100);
  });
});
