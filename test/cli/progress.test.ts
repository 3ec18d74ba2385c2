import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BatchView } from '../../client/index.js';
import { formatDuration, formatUsd, visibleLength, COLOR } from '../../cli/format.js';
import { EXIT, exitCodeForStatus } from '../../cli/exit-codes.js';
import { LOG_HEARTBEAT_MS, LogRenderer, plainProgressLine, progressLine, shouldLog, TtyRenderer } from '../../cli/progress.js';
import { batchSummary, finalLine } from '../../cli/summary.js';

/** The progress display and summaries: pure functions of a BatchView and the time. */

const T0 = Date.parse('2030-01-01T12:00:00Z');

function batch(over: Partial<BatchView> = {}): BatchView {
  return {
    id: 'batch_1',
    object: 'batch',
    status: 'running',
    model: 'gpt-4.1-mini',
    provider: 'openai',
    counts: { total: 300, succeeded: 150, failed: 6, cancelled: 0, pending: 144 },
    usage: { input_tokens: 1000, cached_input_tokens: 0, output_tokens: 500, reasoning_tokens: 0 },
    cost: { spent_usd: 0.0123, reserved_usd: 0.01, limit_usd: 5, estimated_total_usd: 0.03 },
    deadline: null,
    chunks: { total: 6, completed: 3, running: 1, waiting: 2 },
    metadata: null,
    error: null,
    created_at: new Date(T0 - 125_000).toISOString(),
    started_at: new Date(T0 - 120_000).toISOString(),
    completed_at: null,
    eta: new Date(T0 + 80_000).toISOString(),
    ...over,
  };
}

describe('progress line', () => {
  test('bar, percent, done/total, succeeded, failed, cost with limit, ETA, status', () => {
    const line = progressLine(batch(), T0, { columns: 120 });
    assert.match(line, /^\[█{12}░{12}\] {3}52% {2}156\/300 {2}✓ 150 {2}✗ 6 {2}\$0\.0123 \/ \$5\.00 {2}ETA 1m 20s {2}running$/);
  });

  test('no limit: spent only; no ETA: time elapsed; ended: how long it took', () => {
    const noLimit = progressLine(
      batch({ cost: { spent_usd: 2.5, reserved_usd: 0, limit_usd: null, estimated_total_usd: null }, eta: null }),
      T0,
      { columns: 120 },
    );
    assert.match(noLimit, / \$2\.50 {2}2m 05s elapsed {2}running$/);
    const done = batch({
      status: 'completed',
      counts: { total: 300, succeeded: 300, failed: 0, cancelled: 0, pending: 0 },
      completed_at: new Date(T0).toISOString(),
      eta: null,
    });
    assert.match(
      progressLine(done, T0 + 60_000, { columns: 120 }),
      /^\[█{24}\] {2}100% {2}300\/300 {2}✓ 300 {2}✗ 0 .* done in 2m 05s {2}completed$/,
    );
  });

  test('fits the terminal: the bar shrinks, then goes, and the line never reaches the last column', () => {
    for (const columns of [120, 80, 60, 40, 20]) {
      const line = progressLine(batch(), T0, { columns, style: COLOR });
      assert.ok(visibleLength(line) <= columns - 1, `${columns}: ${line}`);
    }
    assert.ok(!progressLine(batch(), T0, { columns: 60 }).includes('['), 'no room for a bar at 60 columns');
  });

  test('colours only when asked', () => {
    assert.ok(!progressLine(batch(), T0).includes('\x1b['));
    assert.ok(progressLine(batch(), T0, { style: COLOR }).includes('\x1b[32m✓ 150'));
  });

  test('the plain line for logs', () => {
    assert.equal(plainProgressLine(batch(), T0), 'running  156/300 (52%)  succeeded 150  failed 6  cost $0.0123 / $5.00  ETA 1m 20s');
  });

  test('a log line only when something changed and ~5 s passed, the status changed, or a minute went by', () => {
    const b = batch();
    assert.equal(shouldLog(undefined, b, T0), true);
    const prev = { at: T0, status: 'running', done: 156, failed: 6 };
    assert.equal(shouldLog(prev, b, T0 + 1000), false, 'nothing changed');
    const moved = batch({ counts: { total: 300, succeeded: 160, failed: 6, cancelled: 0, pending: 134 } });
    assert.equal(shouldLog(prev, moved, T0 + 2000), false, 'counts moved, but too soon');
    assert.equal(shouldLog(prev, moved, T0 + 5000), true);
    assert.equal(shouldLog(prev, batch({ status: 'paused' }), T0 + 100), true, 'status change');
    assert.equal(shouldLog(prev, b, T0 + LOG_HEARTBEAT_MS), true, 'heartbeat');
  });

  test('renderers: the TTY one redraws in place, the log one throttles', () => {
    let tty = '';
    const r = new TtyRenderer(
      { write: (s: string) => (tty += s), columns: 120 },
      { green: (s) => s, red: (s) => s, yellow: (s) => s, dim: (s) => s, bold: (s) => s },
      () => T0,
    );
    r.update(batch());
    r.update(batch());
    r.note('hello');
    r.stop();
    assert.equal(tty.split('\r\x1b[2K').length - 1, 4, 'two draws, a clear for the note, a redraw');
    assert.ok(tty.includes('hello\n'));
    assert.ok(tty.endsWith('\n'));

    let log = '';
    let now = T0;
    const l = new LogRenderer({ write: (s: string) => (log += s) }, () => now);
    for (let i = 0; i < 20; i++) {
      now += 500;
      l.update(batch({ counts: { total: 300, succeeded: 150 + i, failed: 6, cancelled: 0, pending: 144 - i } }));
    }
    assert.equal(log.trim().split('\n').length, 2, `10 s of changes every 0.5 s: 2 lines\n${log}`);
    assert.match(log, /^progress: running {2}156\/300/);
  });
});

describe('formatting and summaries', () => {
  test('money and durations', () => {
    assert.equal(formatUsd(0), '$0.00');
    assert.equal(formatUsd(0.000016), '$0.000016');
    assert.equal(formatUsd(0.0123), '$0.0123');
    assert.equal(formatUsd(1234.5), '$1,234.50');
    // Half up on the decimal, not on the binary fraction ((1.005).toFixed(2) is '1.00'); no float noise.
    assert.equal(formatUsd(1.005), '$1.01');
    assert.equal(formatUsd(1234567.891), '$1,234,567.89');
    assert.equal(formatUsd(0.1 + 0.2), '$0.30');
    assert.equal(formatUsd(0.00999999), '$0.01');
    assert.equal(formatDuration(45_000), '45s');
    assert.equal(formatDuration(125_000), '2m 05s');
    assert.equal(formatDuration(3_720_000), '1h 02m');
  });

  test('the end-of-wait line and the status summary', () => {
    const ended = batch({
      status: 'completed_with_failures',
      counts: { total: 300, succeeded: 294, failed: 6, cancelled: 0, pending: 0 },
      completed_at: new Date(T0).toISOString(),
      eta: null,
    });
    assert.equal(
      finalLine(ended, T0),
      'batch_1 completed_with_failures in 2m 05s, 294/300 succeeded, 6 failed, cost $0.0123 (limit $5.00)',
    );
    const lines = batchSummary(batch(), T0).join('\n');
    assert.match(lines, /items +156\/300 done \(52%\): 150 succeeded, 6 failed, 144 pending/);
    assert.match(lines, /chunks +3\/6 done, 1 running, 2 waiting/);
    assert.match(lines, /cost +\$0\.0123 spent, limit \$5\.00, \$0\.01 reserved, ~\$0\.03 expected in all/);
    assert.match(lines, /eta +.*in 1m 20s/);
  });

  test('exit codes follow the final status', () => {
    assert.equal(exitCodeForStatus('completed'), EXIT.ok);
    assert.equal(exitCodeForStatus('completed_with_failures'), 5);
    for (const s of ['failed', 'cancelled', 'timed_out', 'budget_exhausted']) assert.equal(exitCodeForStatus(s), 6);
  });
});
