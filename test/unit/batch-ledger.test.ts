import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { BatchLedger, closingStatus } from '../../workflows/batch-ledger.js';
import type { Limits, Tally } from '../../workflows/contracts.js';
import { ZERO_TALLY } from '../../workflows/tally.js';

const NO_LIMITS: Limits = { maxCostUsd: null, deadlineMs: null, onBudgetExhausted: 'wait' };
const tally = (succeeded: number, failed: number, costUsd: number): Tally => ({ ...ZERO_TALLY, succeeded, failed, costUsd });

/** A ledger planned into `chunks` chunks of `perChunk` items, each reserving `reserve` and expected to cost `expected`. */
function planned(
  chunks: number,
  opts: { reserve?: number; expected?: number; limits?: Partial<Limits>; perChunk?: number; exact?: boolean } = {},
) {
  const ledger = BatchLedger.fresh(chunks * (opts.perChunk ?? 10), { ...NO_LIMITS, ...opts.limits }, 0, opts.exact ?? exactMoney);
  ledger.setPlan(chunks, chunks * (opts.expected ?? 1));
  ledger.addEstimates({ from: 0, reserveUsd: Array(chunks).fill(opts.reserve ?? 2), expectedUsd: Array(chunks).fill(opts.expected ?? 1) });
  return ledger;
}

/** Every test below runs twice: with the float arithmetic of runs before the exact-money patch, and with it. */
let exactMoney = false;
for (const exact of [false, true])
  describe(exact ? 'BatchLedger (exact money)' : 'BatchLedger', () => {
    before(() => {
      exactMoney = exact;
    });

    test('the window admits up to maxParallel chunks and opens again when one completes', () => {
      const ledger = planned(5);
      assert.equal(ledger.startNext(), 0);
      assert.equal(ledger.startNext(), 1);
      assert.equal(ledger.windowOpen(2), false);
      assert.ok(ledger.complete(0, tally(10, 0, 0.5)));
      assert.equal(ledger.windowOpen(2), true);
      assert.deepEqual(ledger.runningChunks(), [1]);
    });

    test('a chunk reported twice is counted once', () => {
      const ledger = planned(2);
      ledger.startNext();
      assert.equal(ledger.complete(0, tally(10, 0, 0.5)), true);
      assert.equal(ledger.complete(0, tally(10, 0, 0.5)), false);
      assert.equal(ledger.totals.succeeded, 10);
      assert.equal(ledger.spent(), 0.5);
    });

    test('a chunk starts only when spent + reserved + its reservation fits the limit', () => {
      const ledger = planned(4, { reserve: 2, limits: { maxCostUsd: 5 } });
      assert.ok(ledger.fitsBudget());
      ledger.startNext();
      assert.ok(ledger.fitsBudget(), '2 + 2 <= 5');
      ledger.startNext();
      assert.equal(ledger.fitsBudget(), false, '2 + 2 + 2 > 5');
      assert.deepEqual(ledger.budgetShortfall(), { neededUsd: 2, freeUsd: 1 });
      ledger.complete(0, tally(10, 0, 0.5));
      assert.ok(ledger.fitsBudget(), 'the reservation is released, only the real spend stays: 0.5 + 2 + 2 <= 5');
    });

    test('an attempt counts its spend at once, frees its reservation and waits for a grant that fits', () => {
      const ledger = planned(3, { reserve: 2, limits: { maxCostUsd: 5 } });
      ledger.startNext();
      ledger.startNext();
      assert.ok(ledger.attemptDone({ chunkIndex: 0, attempt: 1, costUsd: 1.5, nextReserveUsd: 1.8 }));
      assert.equal(ledger.spent(), 1.5, 'spend is seen when the attempt ends, not when the chunk does');
      assert.equal(ledger.reserved(), 2, 'only chunk 1 holds a reservation now');
      assert.equal(ledger.waitingCount, 1);
      assert.equal(ledger.busyCount, 1);
      assert.equal(ledger.fitsBudget(), false, 'no new chunk starts while a retry waits');
      assert.deepEqual(ledger.budgetShortfall(), { neededUsd: 1.8, freeUsd: 1.5 });
      assert.equal(ledger.grantNext(), null, '1.5 + 2 + 1.8 > 5');
      assert.equal(ledger.attemptDone({ chunkIndex: 0, attempt: 1, costUsd: 1.5, nextReserveUsd: 1.8 }), false, 'a report counts once');
      ledger.complete(1, tally(10, 0, 0.4));
      assert.deepEqual(ledger.grantNext(), { chunkIndex: 0, attempt: 2 }, '1.5 + 0.4 + 1.8 <= 5');
      assert.equal(ledger.reserved(), 1.8);
      assert.equal(ledger.waitingCount, 0);
      // The final tally covers both attempts; the per-attempt spend leaves with the chunk.
      ledger.complete(0, tally(10, 0, 2.9));
      assert.ok(Math.abs(ledger.spent() - 3.3) < 1e-9, String(ledger.spent()));
      assert.equal(ledger.reserved(), 0);
    });

    test('a grant for a chunk that ended meanwhile is refused, not thrown', () => {
      const ledger = planned(2, { reserve: 2, limits: { maxCostUsd: 10 } });
      ledger.startNext();
      ledger.attemptDone({ chunkIndex: 0, attempt: 1, costUsd: 1, nextReserveUsd: 2 });
      const next = ledger.nextGrant();
      assert.deepEqual(next, { chunkIndex: 0, attempt: 2, reserveUsd: 2 });
      ledger.complete(0, tally(10, 0, 1.5));
      assert.equal(ledger.grant(0, 2), false, 'it ended while the tenant cap was asked');
      assert.equal(ledger.reserved(), 0);
      assert.equal(ledger.grant(1, 2), false, 'a chunk that never waited');
    });

    test('a limit below what running chunks reserved is refused with the committed figure', () => {
      const ledger = planned(2, { reserve: 2, limits: { maxCostUsd: 10 } });
      ledger.startNext();
      assert.throws(() => ledger.validateLimits({ maxCostUsd: 1.5 }, 0), /below the \$2(\.000000)? already spent or reserved/);
      ledger.validateLimits({ maxCostUsd: 2 }, 0);
    });

    test('continue-as-new carries a waiting attempt', () => {
      const ledger = planned(2, { reserve: 2, limits: { maxCostUsd: 3 } });
      ledger.startNext();
      ledger.attemptDone({ chunkIndex: 0, attempt: 1, costUsd: 1, nextReserveUsd: 2.5 });
      const next = new BatchLedger(20, JSON.parse(JSON.stringify(ledger.snapshot())));
      assert.equal(next.spent(), 1);
      assert.equal(next.waitingCount, 1);
      assert.equal(next.grantNext(), null, '1 + 2.5 > 3');
      next.setLimits({ maxCostUsd: 4 });
      assert.deepEqual(next.grantNext(), { chunkIndex: 0, attempt: 2 });
    });

    test('a waiting batch says what it needs; its progress carries no ETA', () => {
      const ledger = planned(2, { reserve: 3, limits: { maxCostUsd: 2 } });
      const p = ledger.progress('awaiting_budget', 1000);
      assert.deepEqual(p.budget, { neededUsd: 3, freeUsd: 2 });
      assert.equal(p.etaMs, null);
    });

    test('the ETA is in the future while running and absent while paused', () => {
      const ledger = planned(2, { perChunk: 10 });
      ledger.startNext();
      ledger.complete(0, tally(10, 0, 0.1));
      const running = ledger.progress('running', 10_000);
      assert.ok(running.etaMs !== null && running.etaMs > 10_000, `eta ${running.etaMs}`);
      assert.equal(ledger.progress('paused', 10_000).etaMs, null);
    });

    test('estimates must be loaded before a chunk starts; pages follow one another', () => {
      const ledger = BatchLedger.fresh(30, NO_LIMITS, 0);
      ledger.setPlan(3, 3);
      assert.ok(ledger.needsEstimates());
      assert.throws(() => ledger.startNext(), /not loaded/);
      ledger.addEstimates({ from: 0, reserveUsd: [1, 1], expectedUsd: [0.5, 0.5] });
      ledger.startNext();
      ledger.startNext();
      assert.ok(ledger.needsEstimates(), 'chunk 2 is on the next page');
      assert.equal(ledger.nextChunk, 2);
      ledger.addEstimates({ from: 2, reserveUsd: [4], expectedUsd: [2] });
      assert.equal(ledger.startNext(), 2);
      assert.equal(ledger.reserved(), 6);
    });

    test('a snapshot carries sums and the chunks in flight, and restores the same ledger', () => {
      const ledger = planned(1000, { reserve: 2, expected: 1 });
      for (let i = 0; i < 3; i++) ledger.startNext();
      ledger.complete(1, tally(10, 0, 0.25));
      const snap = ledger.snapshot();
      assert.equal(snap.inFlight.length, 2);
      assert.ok(JSON.stringify(snap).length < 1000, 'no per-chunk arrays: the snapshot stays small at 1,000 chunks');
      const restored = new BatchLedger(10_000, structuredClone(snap), exactMoney);
      assert.deepEqual(restored.runningChunks(), [0, 2]);
      assert.equal(restored.reserved(), 4);
      assert.equal(restored.spent(), 0.25);
      assert.equal(restored.progress('running', 5).cost.estimatedTotalUsd, 0.25 + 2 + 997);
    });

    test('limits: a cap below the spend or a deadline in the past is refused, nothing changes', () => {
      const ledger = planned(2, { limits: { maxCostUsd: 10 } });
      ledger.startNext();
      ledger.complete(0, tally(10, 0, 3));
      assert.throws(() => ledger.validateLimits({ maxCostUsd: 2 }, 0), /below the \$3(\.000000)? already spent/);
      assert.throws(() => ledger.validateLimits({ deadlineMs: 5 }, 10), /in the past/);
      ledger.validateLimits({ maxCostUsd: 3 }, 0);
      ledger.setLimits({ maxCostUsd: null });
      assert.equal(ledger.limits.maxCostUsd, null);
      ledger.stop('cancelled');
      assert.throws(() => ledger.validateLimits({ maxCostUsd: 20 }, 0), /stopping \(cancelled\)/);
    });

    test('a stop is kept once; overspend and deadline are seen', () => {
      const ledger = planned(2, { limits: { maxCostUsd: 1, deadlineMs: 100 } });
      ledger.startNext();
      ledger.complete(0, tally(1, 0, 1.5));
      assert.ok(ledger.overspent());
      assert.ok(ledger.deadlinePassed(100));
      assert.equal(ledger.deadlinePassed(99), false);
      assert.ok(ledger.stop('budget_exhausted'));
      assert.equal(ledger.stop('cancelled'), false);
      assert.equal(ledger.stopReason, 'budget_exhausted');
    });

    test('the sample reserves its worst case first; its spend counts until each chunk reports its share', () => {
      const ledger = planned(2, { reserve: 2, limits: { maxCostUsd: 5 } });
      assert.equal(ledger.reserveSample(6), false, 'a sample that may cost 6 does not fit 5');
      assert.deepEqual(
        ledger.budgetShortfall(),
        { neededUsd: 6, freeUsd: 5, forSample: true },
        'a waiting batch says what the sample needs',
      );
      assert.equal(ledger.reserved(), 0, 'nothing reserved while it waits');
      assert.ok(ledger.reserveSample(3));
      assert.equal(ledger.reserved(), 3);
      assert.ok(ledger.fitsBudget(), '3 + 2 <= 5');
      ledger.sampleDone(1.5);
      assert.equal(ledger.reserved(), 0);
      assert.equal(ledger.spent(), 1.5, 'the sample spent 1.5 before any chunk ran');
      ledger.startNext();
      ledger.startNext();
      assert.equal(ledger.fitsBudget(), true, 'no chunk left to start');
      assert.equal(ledger.budgetShortfall(), null);
      // Chunk 0's tally holds 1 of the sample's 1.5: counted once, in the totals now.
      ledger.complete(0, { ...tally(10, 0, 2), sampleCostUsd: 1 });
      assert.equal(ledger.spent(), 2.5);
      const restored = new BatchLedger(20, structuredClone(ledger.snapshot()), exactMoney);
      assert.equal(restored.spent(), 2.5, 'continue-as-new carries the sample spend not yet reported');
      restored.complete(1, { ...tally(10, 0, 1), sampleCostUsd: 0.5 });
      assert.equal(restored.spent(), 3, 'both tallies hold the whole sample now: 2 + 1');
      restored.close({ ...ZERO_TALLY, succeeded: 20, costUsd: 3 });
      assert.equal(restored.spent(), 3, 'the closing totals, the sample not counted again');
    });

    test('a tally from the store fallback (no sample share) keeps the sample spend: counted high, never low', () => {
      const ledger = planned(1, { limits: { maxCostUsd: 5 } });
      assert.ok(ledger.reserveSample(1));
      ledger.sampleDone(1);
      ledger.startNext();
      ledger.complete(0, tally(10, 0, 2));
      assert.equal(ledger.spent(), 3);
    });

    test('closing status: the stop reason wins, else the outcomes decide', () => {
      assert.equal(closingStatus('timed_out', tally(5, 0, 0)), 'timed_out');
      assert.equal(closingStatus(null, tally(5, 0, 0)), 'completed');
      assert.equal(closingStatus(null, tally(5, 1, 0)), 'completed_with_failures');
      assert.equal(closingStatus(null, tally(0, 6, 0)), 'failed');
      assert.equal(closingStatus(undefined, { succeeded: 3, failed: 0, cancelled: 2 }), 'completed_with_failures');
    });
  });

describe('BatchLedger money (exact-money patch)', () => {
  const three = (exact: boolean, limits: Partial<Limits> = {}) => {
    const ledger = BatchLedger.fresh(30, { ...NO_LIMITS, ...limits }, 0, exact);
    ledger.setPlan(3, 0.30000000000000004);
    ledger.addEstimates({ from: 0, reserveUsd: [0.1, 0.2, 0.1], expectedUsd: [0.1, 0.2, 0.1] });
    return ledger;
  };

  test('spend, reservations and the forecast add up without binary noise; runs before the patch keep their floats', () => {
    for (const exact of [false, true]) {
      const ledger = three(exact);
      ledger.startNext();
      ledger.startNext();
      assert.equal(ledger.reserved(), exact ? 0.3 : 0.30000000000000004);
      ledger.complete(0, tally(10, 0, 0.1));
      ledger.complete(1, tally(10, 0, 0.2));
      assert.equal(ledger.spent(), exact ? 0.3 : 0.30000000000000004, 'what DroverCostUsd is set to');
      assert.equal(ledger.totals.costUsd, exact ? 0.3 : 0.30000000000000004);
      const p = ledger.progress('running', 1);
      assert.equal(p.cost.spentUsd, 0.3);
      assert.equal(p.costUsd, exact ? 0.3 : 0.30000000000000004, 'the progress query');
    }
  });

  test('attempt reports add in nano-dollars', () => {
    const ledger = three(true);
    ledger.startNext();
    for (let attempt = 1; attempt <= 3; attempt++) {
      ledger.attemptDone({ chunkIndex: 0, attempt, costUsd: 0.000000038, nextReserveUsd: 0.1 });
      ledger.grantNext();
    }
    assert.equal(ledger.spent(), 0.000000114);
    assert.equal(String(ledger.progress('running', 1).cost.spentUsd), '1.14e-7');
  });

  test('a limit holds to the nano-dollar, without the old tolerance', () => {
    // 0.1 + 0.2 spent, 0.3 allowed: exactly at the limit, not over it.
    const ledger = three(true, { maxCostUsd: 0.3 });
    ledger.startNext();
    ledger.startNext();
    ledger.complete(0, tally(10, 0, 0.1));
    ledger.complete(1, tally(10, 0, 0.2));
    assert.equal(ledger.overspent(), false);
    assert.equal(ledger.fitsBudget(), false, 'the third chunk needs 0.1 more than the limit leaves');
    ledger.setLimits({ maxCostUsd: 0.4 });
    assert.equal(ledger.fitsBudget(), true, 'exactly enough');
    ledger.setLimits({ maxCostUsd: 0.399999999 });
    assert.equal(ledger.fitsBudget(), false, 'a nano-dollar short (the old tolerance let 10 through)');
    assert.throws(() => ledger.validateLimits({ maxCostUsd: 0.299999999 }, 0), /below the \$0\.3 already spent/);
    ledger.validateLimits({ maxCostUsd: 0.3 }, 0);
    assert.deepEqual(ledger.budgetShortfall(), { neededUsd: 0.1, freeUsd: 0.099999999 });
  });

  test('a limit beyond what money keeps exact is no limit reached, and nothing throws', () => {
    const ledger = three(true, { maxCostUsd: 1e12 });
    assert.equal(ledger.fitsBudget(), true);
    ledger.startNext();
    ledger.complete(0, tally(10, 0, 0.1));
    assert.equal(ledger.overspent(), false);
    assert.deepEqual(ledger.progress('running', 1).cost.limitUsd, 1e12);
  });
});
