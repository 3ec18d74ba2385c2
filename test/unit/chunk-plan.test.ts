import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChunkPlanner, type ChunkLimits, type ChunkRange } from '../../domain/chunk-plan.js';
import { mulberry32 } from '../../emulator/random.js';

function plan(limits: ChunkLimits, sizes: number[], firstSeq = 0): ChunkRange[] {
  const p = new ChunkPlanner(limits);
  sizes.forEach((size, i) => p.add(firstSeq + i, size));
  return p.finish();
}

/** Checks every invariant a plan must hold for items `firstSeq .. firstSeq + sizes.length`. */
function assertPlanInvariants(limits: ChunkLimits, sizes: number[], chunks: ChunkRange[], firstSeq = 0, label = ''): void {
  const lineBytes = (seq: number) => sizes[seq - firstSeq]! + limits.lineOverhead;
  if (sizes.length === 0) {
    assert.deepEqual(chunks, [], label);
    return;
  }
  assert.equal(chunks[0]!.seq_start, firstSeq, `${label} first chunk starts at the first seq`);
  assert.equal(chunks.at(-1)!.seq_end, firstSeq + sizes.length, `${label} last chunk ends after the last seq`);
  let covered = 0;
  chunks.forEach((c, i) => {
    assert.equal(c.idx, i, `${label} idx is the position in the plan`);
    assert.ok(c.seq_end > c.seq_start, `${label} chunk ${i} is not empty`);
    assert.equal(c.item_count, c.seq_end - c.seq_start, `${label} chunk ${i} item_count matches its range`);
    assert.ok(c.item_count <= limits.maxItems, `${label} chunk ${i} has ${c.item_count} > ${limits.maxItems} items`);
    let bytes = 0;
    for (let s = c.seq_start; s < c.seq_end; s++) bytes += lineBytes(s);
    assert.equal(c.bytes, bytes, `${label} chunk ${i} bytes are the sum of its lines`);
    assert.ok(c.bytes <= limits.maxBytes, `${label} chunk ${i} has ${c.bytes} > ${limits.maxBytes} bytes`);
    if (i > 0) {
      const prev = chunks[i - 1]!;
      assert.equal(c.seq_start, prev.seq_end, `${label} chunk ${i} starts where chunk ${i - 1} ends`);
      // Greedy: the first item of this chunk could not have joined the previous one.
      const couldJoin = prev.item_count + 1 <= limits.maxItems && prev.bytes + lineBytes(c.seq_start) <= limits.maxBytes;
      assert.ok(!couldJoin, `${label} chunk ${i} could have been merged into chunk ${i - 1}`);
    }
    covered += c.item_count;
  });
  assert.equal(covered, sizes.length, `${label} every seq is covered exactly once`);
}

describe('ChunkPlanner', () => {
  test('no items gives no chunks', () => {
    assert.deepEqual(new ChunkPlanner({ maxItems: 10, maxBytes: 1000, lineOverhead: 0 }).finish(), []);
  });

  test('splits by count when bytes are plentiful', () => {
    const limits = { maxItems: 3, maxBytes: 1_000_000, lineOverhead: 10 };
    const chunks = plan(limits, Array(8).fill(5));
    assert.deepEqual(
      chunks.map((c) => [c.idx, c.seq_start, c.seq_end, c.item_count, c.bytes]),
      [
        [0, 0, 3, 3, 45],
        [1, 3, 6, 3, 45],
        [2, 6, 8, 2, 30],
      ],
    );
  });

  test('splits by bytes, counting the line overhead of every item', () => {
    // Each line is 30 + 20 = 50 bytes: two fit in 100, a third does not.
    const limits = { maxItems: 100, maxBytes: 100, lineOverhead: 20 };
    const chunks = plan(limits, [30, 30, 30, 30, 30]);
    assert.deepEqual(
      chunks.map((c) => [c.seq_start, c.seq_end, c.bytes]),
      [
        [0, 2, 100],
        [2, 4, 100],
        [4, 5, 50],
      ],
    );
  });

  test('an item that fills the limit exactly is accepted and stands alone', () => {
    const limits = { maxItems: 100, maxBytes: 100, lineOverhead: 10 };
    const chunks = plan(limits, [10, 90, 10]);
    assert.deepEqual(
      chunks.map((c) => [c.seq_start, c.seq_end, c.bytes]),
      [
        [0, 1, 20],
        [1, 2, 100],
        [2, 3, 20],
      ],
    );
  });

  test('a single oversize item throws naming its position and size', () => {
    const p = new ChunkPlanner({ maxItems: 100, maxBytes: 100, lineOverhead: 10 });
    p.add(0, 10);
    p.add(1, 10);
    assert.throws(
      () => p.add(2, 91),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /position 2\b/);
        assert.match(err.message, /\b101 bytes/);
        assert.match(err.message, /\b100-byte/);
        return true;
      },
    );
  });

  test('oversize is judged with the overhead: an item that fits alone only without it throws', () => {
    const p = new ChunkPlanner({ maxItems: 100, maxBytes: 100, lineOverhead: 1 });
    assert.throws(() => p.add(7, 100), /position 7/);
  });

  test('ranges start at the first seq given, not at 0', () => {
    const chunks = plan({ maxItems: 2, maxBytes: 1000, lineOverhead: 0 }, [1, 1, 1], 10);
    assert.deepEqual(
      chunks.map((c) => [c.idx, c.seq_start, c.seq_end]),
      [
        [0, 10, 12],
        [1, 12, 13],
      ],
    );
  });

  test('a gap in seq starts a new chunk instead of claiming the missing position', () => {
    const p = new ChunkPlanner({ maxItems: 10, maxBytes: 1000, lineOverhead: 0 });
    p.add(0, 1);
    p.add(1, 1);
    p.add(5, 1);
    assert.deepEqual(
      p.finish().map((c) => [c.seq_start, c.seq_end, c.item_count]),
      [
        [0, 2, 2],
        [5, 6, 1],
      ],
    );
  });

  test('maxItems 1 gives one chunk per item', () => {
    const chunks = plan({ maxItems: 1, maxBytes: 1000, lineOverhead: 3 }, [4, 5, 6]);
    assert.deepEqual(
      chunks.map((c) => [c.idx, c.seq_start, c.seq_end, c.bytes]),
      [
        [0, 0, 1, 7],
        [1, 1, 2, 8],
        [2, 2, 3, 9],
      ],
    );
  });

  test('property: random sizes and limits keep every invariant (seeded)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = mulberry32(seed);
      const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
      const lineOverhead = int(0, 50);
      const maxBytes = int(lineOverhead + 1, 2000);
      const maxItems = int(1, 40);
      const n = int(0, 400);
      // Mostly small items with occasional ones near the byte limit.
      const maxSize = maxBytes - lineOverhead;
      const sizes = Array.from({ length: n }, () =>
        rnd() < 0.1 ? int(Math.floor(maxSize / 2), maxSize) : int(0, Math.max(0, Math.floor(maxSize / 8))),
      );
      const firstSeq = int(0, 3) === 0 ? int(1, 1000) : 0;
      const limits = { maxItems, maxBytes, lineOverhead };
      assertPlanInvariants(limits, sizes, plan(limits, sizes, firstSeq), firstSeq, `seed ${seed}:`);
    }
  });

  test('property: an oversize item anywhere throws with its own position (seeded)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rnd = mulberry32(seed * 7919);
      const limits = { maxItems: 5, maxBytes: 500, lineOverhead: 20 };
      const n = 1 + Math.floor(rnd() * 50);
      const bad = Math.floor(rnd() * n);
      const p = new ChunkPlanner(limits);
      for (let seq = 0; seq < bad; seq++) p.add(seq, Math.floor(rnd() * 100));
      assert.throws(() => p.add(bad, 481 + Math.floor(rnd() * 1000)), new RegExp(`position ${bad} is \\d+ bytes`), `seed ${seed}`);
    }
  });
});
