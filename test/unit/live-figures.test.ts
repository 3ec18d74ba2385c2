import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LiveFiguresCache } from '../../api/live-figures.js';
import type { LiveFigures } from '../../api/views.js';

const usage = { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 };
const figures = (succeeded: number): LiveFigures => ({ status: 'running', succeeded, failed: 0, cancelled: 0, usage, costUsd: 0 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A read that answers when told to, counting how often it was started. */
function gatedReads() {
  let started = 0;
  let release: (v: LiveFigures) => void = () => {};
  return {
    read: () => {
      started++;
      return new Promise<LiveFigures>((resolve) => (release = resolve));
    },
    answer: (v: LiveFigures) => release(v),
    get started() {
      return started;
    },
  };
}

describe('LiveFiguresCache', () => {
  test('a hundred callers at once share one read', async () => {
    const cache = new LiveFiguresCache(1_000);
    const reads = gatedReads();
    const answers = Array.from({ length: 100 }, () => cache.get('b', reads.read));
    assert.equal(reads.started, 1);
    reads.answer(figures(7));
    assert.deepEqual(
      (await Promise.all(answers)).map((f) => f?.succeeded),
      Array(100).fill(7),
    );
    // Fresh: served without reading.
    assert.equal((await cache.get('b', reads.read))?.succeeded, 7);
    assert.equal(reads.started, 1);
  });

  test('past freshMs the first caller reads again and waits; callers meanwhile get the figures there are at once', async () => {
    const cache = new LiveFiguresCache(20);
    cache.set('b', figures(1));
    await sleep(30);
    const reads = gatedReads();
    const first = cache.get('b', reads.read);
    assert.equal((await cache.get('b', reads.read))?.succeeded, 1);
    assert.equal((await cache.get('b', reads.read))?.succeeded, 1);
    assert.equal(reads.started, 1, 'one read while it runs');
    reads.answer(figures(2));
    assert.equal((await first)?.succeeded, 2, 'the caller who read gets what it read');
    assert.equal((await cache.get('b', reads.read))?.succeeded, 2);
  });

  test("an update's answer set while a read runs is not replaced by that older read", async () => {
    const cache = new LiveFiguresCache(60_000);
    const reads = gatedReads();
    const reading = cache.get('b', reads.read);
    await sleep(2);
    cache.set('b', { ...figures(3), status: 'paused' });
    reads.answer(figures(2));
    await reading;
    const now = await cache.get('b', reads.read);
    assert.deepEqual([now?.status, now?.succeeded], ['paused', 3]);
  });

  test('a failed read reaches its callers and the next one reads again', async () => {
    const cache = new LiveFiguresCache();
    await assert.rejects(
      cache.get('b', async () => {
        throw new Error('store down');
      }),
      /store down/,
    );
    assert.equal((await cache.get('b', async () => figures(4)))?.succeeded, 4);
  });
});
