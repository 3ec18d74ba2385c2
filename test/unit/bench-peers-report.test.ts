/** The peers bench's parsing and reporting: a timed-out peer is "> T" and its ratio a lower bound. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTable, median, parseResultLine, speedup, type Measurement } from '../../bench/peers/report.js';

describe('peers bench report', () => {
  it('takes the last RESULT line among a driver’s other output, and refuses one without its numbers', () => {
    const out = [
      'Processing gpt-4o-mini [Batches: 1✓] RESULT is not at the start',
      'RESULT {"tool": "curator", "items": 10, "succeeded": 9, "failed": 1, "seconds": 1.5}',
      'RESULT {"tool": "curator", "items": 10, "succeeded": 10, "failed": 0, "seconds": 2.5, "maxrss_kb": 2048}',
      '',
    ].join('\n');
    assert.deepEqual(parseResultLine(out), { tool: 'curator', items: 10, succeeded: 10, failed: 0, seconds: 2.5, maxrss_kb: 2048 });
    assert.equal(parseResultLine('Traceback (most recent call last):\n'), undefined);
    assert.throws(() => parseResultLine('RESULT {"tool": "batchata", "items": 10, "succeeded": 10, "failed": 0}'), /seconds/);
  });

  it('gives medians, exact ratios for finished peers and lower bounds for timed-out ones', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    const drover: Measurement = { tool: 'drover', items: 100_000, seconds: 20, runs: [20], peakMb: 700 };
    const curator: Measurement = { tool: 'curator', items: 100_000, seconds: 250, runs: [250], peakMb: 1500 };
    const batchata: Measurement = { tool: 'batchata', items: 100_000, timedOutAfter: 1200, runs: [], peakMb: 900 };
    assert.deepEqual(speedup(curator, drover), { value: 12.5, lowerBound: false });
    assert.deepEqual(speedup(batchata, drover), { value: 60, lowerBound: true });
    assert.equal(speedup(curator, { ...drover, seconds: undefined, timedOutAfter: 1200 }), undefined);

    const table = formatTable([batchata, curator, drover]).split('\n');
    assert.equal(table.length, 5);
    assert.equal(table[2], '| 100,000 | batchata | > 1200 s | < 83 | 900 MB | > 60.0× |  |');
    assert.equal(table[3], '| 100,000 | curator | 250 s | 400 | 1,500 MB | 12.5× |  |');
    assert.equal(table[4], '| 100,000 | drover | 20.0 s | 5,000 | 700 MB | 1× |  |');
  });

  it('shows every run beside the median of several', () => {
    const m: Measurement = { tool: 'batchata', items: 10_000, seconds: 40.2, runs: [38.1, 40.2, 45.0], peakMb: 300 };
    const d: Measurement = { tool: 'drover', items: 10_000, seconds: 4, runs: [4], peakMb: 600 };
    assert.match(formatTable([m, d]).split('\n')[2]!, /\| 40\.2 s \(38\.1, 40\.2, 45\.0\) \| 249 \| 300 MB \| 10\.1× \|/);
  });
});
