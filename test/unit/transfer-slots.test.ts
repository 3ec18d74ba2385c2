import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CancelledFailure } from '@temporalio/common';
import { TransferSlots } from '../../activities/transfer-slots.js';

/** A task that runs until released, recording how many ran at once. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('transfer slots', () => {
  test('at most `size` run at once; the others start in arrival order as slots free', async () => {
    const slots = new TransferSlots(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const gates = Array.from({ length: 5 }, gate);
    const all = gates.map((g, i) =>
      slots.use(async () => {
        started.push(i);
        most = Math.max(most, ++running);
        await g.opened;
        running--;
        return i;
      }),
    );
    await nextTurn();
    assert.deepEqual(started, [0, 1]);
    gates[1]!.open();
    await nextTurn();
    assert.deepEqual(started, [0, 1, 2]);
    for (const g of gates) g.open();
    assert.deepEqual(await Promise.all(all), [0, 1, 2, 3, 4]);
    assert.equal(most, 2);
  });

  test('a cancel while waiting ends the wait with CancelledFailure and takes no slot', async () => {
    const slots = new TransferSlots(1);
    const first = gate();
    const holder = slots.use(() => first.opened);
    const abort = new AbortController();
    let ranCancelled = false;
    const waiting = slots.use(async () => {
      ranCancelled = true;
    }, abort.signal);
    const after = slots.use(async () => 'after');
    abort.abort();
    await assert.rejects(waiting, CancelledFailure);
    first.open();
    await holder;
    assert.equal(await after, 'after');
    assert.equal(ranCancelled, false);
    // Already cancelled: refused at once.
    await assert.rejects(
      slots.use(async () => 'never', AbortSignal.abort()),
      CancelledFailure,
    );
  });

  test('a failing holder frees its slot', async () => {
    const slots = new TransferSlots(1);
    await assert.rejects(
      slots.use(async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await slots.use(async () => 'next'), 'next');
  });
});
