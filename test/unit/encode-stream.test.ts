import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeJsonl, encodeSliced } from '../../providers/encode-stream.js';

const items = Array.from({ length: 20_000 }, (_, i) => ({ i, text: 'x'.repeat(500) }));

test('JSONL is encoded in slices with turns of the event loop between them, and adds up to the whole', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const parts: Buffer[] = [];
  try {
    for await (const part of encodeJsonl(items, (x) => JSON.stringify(x))) parts.push(part);
  } finally {
    clearInterval(timer);
  }
  assert.ok(parts.length >= 10, `${parts.length} slices for ~10 MB`);
  assert.ok(ticks > 0, 'timers ran while it encoded');
  assert.equal(Buffer.concat(parts).toString(), items.map((x) => JSON.stringify(x)).join('\n') + '\n');
});

test('a JSON body with an opening, separators and a closing parses back to the list', async () => {
  const parts: Buffer[] = [];
  for await (const part of encodeSliced(items, (x) => JSON.stringify(x), { open: '{"requests":[', separator: ',', close: ']}' }))
    parts.push(part);
  assert.deepEqual(JSON.parse(Buffer.concat(parts).toString()), { requests: items });
  const none: Buffer[] = [];
  for await (const part of encodeSliced([], String, { open: '[', separator: ',', close: ']' })) none.push(part);
  assert.equal(Buffer.concat(none).toString(), '[]');
});
