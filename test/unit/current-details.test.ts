import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchLedger } from '../../workflows/batch-ledger.js';
import type { Limits, Tally } from '../../workflows/contracts.js';
import { usdText as formatUsd } from '../../domain/money.js';
import { renderBatchDetails, renderChunkDetails, type ChunkView } from '../../workflows/current-details.js';
import { ZERO_TALLY } from '../../workflows/tally.js';

const LIMITS: Limits = { maxCostUsd: 5, deadlineMs: null, onBudgetExhausted: 'wait' };
const tally = (succeeded: number, failed: number, costUsd: number): Tally => ({ ...ZERO_TALLY, succeeded, failed, costUsd });
const T0 = Date.parse('2026-12-01T17:00:00Z');

/** A ledger of 4 chunks of 1,000 items, one done (990 succeeded, 10 failed), one running. */
function running(limits: Partial<Limits> = {}) {
  const ledger = BatchLedger.fresh(4000, { ...LIMITS, ...limits }, T0);
  ledger.setPlan(4, 0.08);
  ledger.addEstimates({ from: 0, reserveUsd: [0.4, 0.4, 0.4, 0.4], expectedUsd: [0.02, 0.02, 0.02, 0.02] });
  ledger.startNext();
  ledger.startNext();
  ledger.complete(0, tally(990, 10, 0.0190568));
  return ledger;
}

/** The value of a row of the details' table. */
const row = (md: string, key: string) => md.replaceAll('\\$', '$').match(new RegExp(`^\\| ${key} \\| (.*) \\|$`, 'm'))?.[1];

describe('current details', () => {
  test('money is written as the API rounds it, without float noise or exponents', () => {
    assert.equal(formatUsd(0.000056800000000000005), '$0.0000568');
    assert.equal(formatUsd(5), '$5.00');
    assert.equal(formatUsd(0.1 + 0.2), '$0.30');
    assert.equal(formatUsd(1e-9), '$0.000000001');
    assert.equal(formatUsd(0), '$0.00');
  });

  test('a running batch shows progress, outcomes, cost against its limit, an ETA and the API paths', () => {
    const ledger = running();
    const now = T0 + 60_000;
    const p = ledger.progress('running', now);
    const md = renderBatchDetails('batch_x', p, now);
    assert.equal(row(md, 'state'), 'running');
    assert.equal(row(md, 'progress'), '1,000 / 4,000 items (25.0%)');
    assert.equal(row(md, 'succeeded'), '990');
    assert.equal(row(md, 'failed'), '10');
    assert.equal(row(md, 'cancelled'), '0');
    assert.equal(row(md, 'pending'), '3,000');
    assert.equal(row(md, 'cost'), '$0.0190568 spent of $5.00 limit · $0.40 reserved');
    assert.ok(md.includes('| cost | \\$0.0190568 spent of \\$5.00 limit'), 'dollars escaped: the UI reads two on a line as math');
    // 1,000 items in a minute, 3,000 to go: three minutes from now.
    assert.equal(p.etaMs, now + 180_000);
    assert.equal(row(md, 'ETA'), '2026-12-01 17:04:00 UTC');
    assert.equal(row(md, 'chunks'), '1 done · 1 running · 2 to start, of 4');
    assert.match(md, /`GET \/v1\/batches\/batch_x`/);
    assert.match(md, /`GET \/v1\/batches\/batch_x\/results\?format=jsonl`/);
    assert.match(md, /_as of 2026-12-01 17:01:00 UTC_/);
  });

  test('a paused batch says so, how to resume it, and has no ETA', () => {
    const ledger = running();
    ledger.pause();
    const md = renderBatchDetails('batch_x', ledger.progress('paused', T0 + 60_000), T0 + 60_000);
    assert.equal(row(md, 'state'), 'paused: no new chunk starts until `POST /v1/batches/batch_x/resume`');
    assert.equal(row(md, 'ETA'), '–');
    // Paused while its status still reads running (the pause landed between two steps): no ETA either.
    assert.equal(ledger.progress('running', T0 + 60_000).etaMs, null);
  });

  test('a batch awaiting budget says what it needs and what its limit, or its tenant cap, leaves free', () => {
    const ledger = running({ maxCostUsd: 0.5 });
    const batchMd = renderBatchDetails('batch_x', ledger.progress('awaiting_budget', T0 + 1000), T0 + 1000);
    assert.equal(
      row(batchMd, 'state'),
      'awaiting budget: the next attempt needs $0.40 reserved (its worst case) and the batch limit leaves $0.0809432 free; raise `max_cost_usd` (`PATCH /v1/batches/batch_x/limits`) or cancel',
    );
    assert.equal(row(batchMd, 'ETA'), '–');
    ledger.tenantShortfall = { neededUsd: 0.4, freeUsd: 0.125 };
    const tenantMd = renderBatchDetails('batch_x', ledger.progress('awaiting_budget', T0 + 1000), T0 + 1000);
    assert.equal(
      row(tenantMd, 'state'),
      "awaiting budget: the next attempt needs $0.40 reserved and the tenant's monthly spend cap leaves $0.125 free",
    );
  });

  test('a stopping batch says why; an ended one says how it ended and has no ETA', () => {
    const ledger = running();
    ledger.stop('timed_out');
    const stopping = renderBatchDetails('batch_x', ledger.progress('cancelling', T0 + 1000), T0 + 1000, 'timed_out');
    assert.match(row(stopping, 'state')!, /^stopping: the deadline passed/);
    ledger.close(tally(990, 10, 0.02));
    const ended = renderBatchDetails('batch_x', ledger.progress('timed_out', T0 + 2000), T0 + 2000);
    assert.equal(row(ended, 'state'), 'ended: timed_out');
    assert.equal(row(ended, 'ETA'), '–');
    assert.equal(row(ended, 'limit'), undefined);
    assert.equal(row(ended, 'cost'), '$0.02 spent of $5.00 limit · $0.00 reserved');
  });

  test('the ETA is never before the clock it is projected with', () => {
    const ledger = running();
    for (const now of [T0 + 1, T0 + 1000, T0 + 3_600_000]) {
      const eta = ledger.progress('running', now).etaMs;
      assert.ok(eta !== null && eta > now, `eta ${eta} at ${now}`);
    }
    assert.equal(ledger.progress('awaiting_budget', T0 + 1000).etaMs, null);
    assert.equal(ledger.progress('cancelling', T0 + 1000).etaMs, null);
  });

  test('a chunk names its provider batch, attempt, path and state', () => {
    const view: ChunkView = {
      batchId: 'batch_x',
      chunkIndex: 2,
      attempt: 2,
      maxAttempts: 3,
      path: 'batch',
      providerBatchId: 'batch_abc123',
      phase: { name: 'polling', providerState: 'in_progress' },
      succeeded: 8,
      failed: 0,
    };
    const md = renderChunkDetails(view, T0);
    assert.equal(row(md, 'state'), 'polling in_progress');
    assert.equal(row(md, 'provider batch'), '`batch_abc123`');
    assert.equal(row(md, 'attempt'), '2 of 3');
    assert.equal(row(md, 'path'), 'batch');
    assert.equal(row(md, 'earlier attempts'), '8 succeeded · 0 failed');
    assert.match(md, /Chunk 2 of `batch_x`/);
    const waiting = renderChunkDetails({ ...view, providerBatchId: null, path: null, phase: { name: 'awaiting_grant' } }, T0);
    assert.equal(row(waiting, 'state'), "waiting for its next attempt's budget: the batch reserves attempt 2's worst case first");
    assert.equal(row(waiting, 'provider batch'), '–');
    assert.match(row(renderChunkDetails({ ...view, phase: { name: 'submitting' } }, T0), 'state')!, /^submitting/);
    assert.match(row(renderChunkDetails({ ...view, phase: { name: 'collecting' } }, T0), 'state')!, /^collecting/);
    const done = renderChunkDetails({ ...view, phase: { name: 'done', succeeded: 9, failed: 1, cancelled: 0 } }, T0);
    assert.equal(row(done, 'state'), 'done: 9 succeeded · 1 failed · 0 cancelled');
  });
});
