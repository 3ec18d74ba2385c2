import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStack } from '../helpers/stack.js';

interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

/** Reads a Server-Sent Events stream to its end. */
async function readEvents(url: string, headers: Record<string, string>): Promise<SseEvent[]> {
  const res = await fetch(url, { headers });
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const events: SseEvent[] = [];
  for (const block of (await res.text()).split('\n\n')) {
    if (!block.trim()) continue;
    const e: Partial<SseEvent> = {};
    for (const line of block.split('\n')) {
      const [field, ...rest] = line.split(': ');
      const value = rest.join(': ');
      if (field === 'id') e.id = value;
      if (field === 'event') e.event = value;
      if (field === 'data') e.data = JSON.parse(value);
    }
    events.push(e as SseEvent);
  }
  return events;
}

describe('GET /v1/batches/:id/events', () => {
  const stack = useStack({ processingMs: 1500, worker: true });

  test('streams progress, one event per finished item, then done; a reconnect resumes after Last-Event-ID', async () => {
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'batch',
      items: Array.from({ length: 20 }, (_, i) => ({ id: `e${i}`, content: `text ${i}` })),
      chunk_size: 10,
      max_parallel_chunks: 1,
    });
    const url = `${stack.api.url}/v1/batches/${created.body.id}/events`;
    const events = await readEvents(url, stack.auth);
    const items = events.filter((e) => e.event === 'item');
    assert.ok(
      events.some((e) => e.event === 'progress'),
      'progress while it runs',
    );
    assert.equal(items.length, 20);
    assert.equal(new Set(items.map((e) => e.data.id)).size, 20, 'each item once');
    assert.ok(items.every((e) => e.data.status === 'succeeded' && e.id));
    const done = events[events.length - 1]!;
    assert.equal(done.event, 'done');
    assert.equal(done.data.status, 'completed');
    assert.equal(done.data.counts.succeeded, 20);

    const resumed = await readEvents(url, { ...stack.auth, 'last-event-id': items[9]!.id! });
    assert.deepEqual(
      resumed.filter((e) => e.event === 'item').map((e) => e.data.id),
      items.slice(10).map((e) => e.data.id),
    );
    assert.equal(resumed[resumed.length - 1]!.event, 'done');
    assert.equal((await fetch(`${stack.api.url}/v1/batches/batch_nope/events`, { headers: stack.auth })).status, 404);
  });
});
