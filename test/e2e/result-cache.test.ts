import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EmulatorStats } from '../../emulator/index.js';
import { TERMINAL_BATCH_STATUSES } from '../../domain/responses.js';
import { type Caller, useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const SCHEMA = {
  type: 'object',
  properties: { topic: { type: 'string', enum: ['billing', 'shipping', 'other'] }, urgent: { type: 'boolean' } },
  required: ['topic', 'urgent'],
  additionalProperties: false,
};
const response_format = { type: 'json_schema', json_schema: { name: 'triage', schema: SCHEMA, strict: true } };

/** Items whose texts are unique to `tag`, so each test starts from an empty cache of its own. */
function items(n: number, tag: string) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${tag}-${i}`,
    content: `[${tag}] ticket ${i}: my parcel is late and I was charged twice.`,
  }));
}

/** What reached the provider: every kind of call that sends an item. */
function sent(s: EmulatorStats): number {
  return s.lines_received + s.chat_completions + s.anthropic.requests_received + s.anthropic.messages;
}

async function results(caller: Pick<Caller, 'get'>, id: string): Promise<any[]> {
  const page = await caller.get(`/v1/batches/${id}/results?limit=1000`);
  assert.equal(page.status, 200, page.text);
  return page.body.data;
}

/**
 * The tenant-scoped result cache against the real stack, with the product's default (`use`):
 * a batch sent twice is answered the second time without a call, at $0, with the same outputs.
 */
describe('result cache', () => {
  const stack = useStack({ processingMs: 100, worker: true, api: { DROVER_RESULT_CACHE: 'use' } });

  const run = async (body: object, caller: Pick<Caller, 'post' | 'get'> = stack) => {
    const created = await caller.post('/v1/batches', body);
    assert.equal(created.status, 202, created.text);
    const done = await until(
      async () => (await caller.get(`/v1/batches/${created.body.id}`)).body,
      (b) => TERMINAL_BATCH_STATUSES.includes(b?.status),
      { intervalMs: 200, what: `batch ${created.body.id} ended` },
    );
    return { done, rows: await results(caller, created.body.id) };
  };

  test('the same batch twice: the second sends nothing, costs $0, and returns identical outputs', async () => {
    const body = { model: 'gpt-4.1-mini', mode: 'batch', items: items(8, 'twice'), response_format };
    const first = await run(body);
    assert.equal(first.done.status, 'completed');
    assert.equal(first.done.cache.mode, 'use', 'use is the default');
    assert.equal(first.done.cache.hits, 0);
    assert.ok(first.done.cost.spent_usd > 0);

    const before = stack.emulator.stats();
    const second = await run(body);
    const after = stack.emulator.stats();
    assert.equal(second.done.status, 'completed');
    assert.equal(sent(after), sent(before), 'nothing reached the provider');
    assert.equal(after.batches_created, before.batches_created);
    assert.equal(after.files_uploaded, before.files_uploaded);
    assert.equal(second.done.cost.spent_usd, 0);
    assert.equal(second.done.counts.succeeded, 8);
    assert.equal(second.done.cache.hits, 8);
    assert.equal(second.done.cost.cache_saved_usd, first.done.cost.spent_usd, 'it saved what the first paid');
    assert.deepEqual(
      second.rows.map((r) => r.output),
      first.rows.map((r) => r.output),
    );
    for (const r of second.rows) {
      assert.equal(r.path, 'cache');
      assert.equal(r.cached_from, first.done.id);
      assert.equal(r.cost_usd, 0);
    }
    // The realtime path remembers too: a realtime batch of the same requests is answered from the cache.
    const realtime = await run({ ...body, mode: 'realtime' });
    assert.equal(realtime.done.cache.hits, 8);
    assert.equal(sent(stack.emulator.stats()), sent(after));
  });

  test('realtime answers are remembered; refresh sends again and replaces them; an expired entry misses', async () => {
    const body = { model: 'gpt-4.1-mini', mode: 'realtime', items: items(5, 'refresh'), response_format };
    const first = await run(body);
    assert.equal(first.done.status, 'completed');

    let before = stack.emulator.stats();
    const refreshed = await run({ ...body, cache: 'refresh' });
    assert.equal(stack.emulator.stats().chat_completions - before.chat_completions, 5, 'refresh sends every item');
    assert.equal(refreshed.done.cache.hits, 0);
    assert.ok(refreshed.rows.every((r) => r.path === 'realtime'));
    assert.ok(refreshed.done.cost.spent_usd > 0);

    const reused = await run(body);
    assert.ok(
      reused.rows.every((r) => r.path === 'cache' && r.cached_from === refreshed.done.id),
      'the refreshed answers replaced the first',
    );

    // Expired entries are never read: the next batch sends its items again.
    const aged = await stack.db.query(`UPDATE result_cache SET expires_at = now() - interval '1 second' WHERE tenant_id = 'default'`);
    assert.ok((aged.rowCount ?? 0) >= 5);
    before = stack.emulator.stats();
    const expired = await run(body);
    assert.equal(stack.emulator.stats().chat_completions - before.chat_completions, 5);
    assert.equal(expired.done.cache.hits, 0);

    // cache "off" neither reads nor writes.
    before = stack.emulator.stats();
    const off = await run({ ...body, items: items(3, 'off'), cache: 'off' });
    assert.equal(off.done.cache.mode, 'off');
    const { rows } = await stack.db.query(`SELECT count(*)::int AS n FROM result_cache WHERE source_batch_id = $1`, [off.done.id]);
    assert.equal(rows[0].n, 0);
    assert.equal(stack.emulator.stats().chat_completions - before.chat_completions, 3);
  });

  test('a failed item is never cached: the next batch answers the others from the cache and sends it again', async () => {
    const body = { model: 'gpt-4.1-mini', mode: 'realtime', items: items(6, 'fail'), response_format, max_attempts: 1 };
    stack.emulator.setFaults({ http: [{ path: '/v1/chat/completions', status: 400, count: 2 }] });
    const first = await run(body);
    stack.emulator.setFaults({});
    assert.equal(first.done.status, 'completed_with_failures');
    assert.equal(first.done.counts.failed, 2);
    const { rows } = await stack.db.query(`SELECT count(*)::int AS n FROM result_cache WHERE source_batch_id = $1`, [first.done.id]);
    assert.equal(rows[0].n, 4, 'only the succeeded answers');

    const before = stack.emulator.stats();
    const second = await run(body);
    assert.equal(second.done.status, 'completed');
    assert.equal(second.done.cache.hits, 4);
    assert.equal(stack.emulator.stats().chat_completions - before.chat_completions, 2, 'the failed ones were sent');
    const failedIds = new Set(first.rows.filter((r) => r.status === 'failed').map((r) => r.id));
    for (const r of second.rows) assert.equal(r.path, failedIds.has(r.id) ? 'realtime' : 'cache', r.id);
  });

  test("tenant A's cache never serves tenant B; an admin purges a tenant's cache", async () => {
    const tenantA = stack.as((await stack.createKey({ tenant: 'cache-a', scopes: ['batches:read', 'batches:write'] })).key);
    const tenantB = stack.as((await stack.createKey({ tenant: 'cache-b', scopes: ['batches:read', 'batches:write'] })).key);
    const body = { model: 'gpt-4.1-mini', mode: 'realtime', items: items(4, 'tenants'), response_format };
    await run(body, tenantA);

    let before = stack.emulator.stats();
    const b = await run(body, tenantB);
    assert.equal(b.done.cache.hits, 0, "A's answers are not B's");
    assert.equal(stack.emulator.stats().chat_completions - before.chat_completions, 4);
    assert.equal((await run(body, tenantA)).done.cache.hits, 4);

    // Purging is an admin's: a tenant's own key may not, and the purge forgets only that tenant.
    assert.equal((await tenantA.request('DELETE', '/v1/admin/tenants/cache-a/cache')).status, 403);
    const purged = await stack.request('DELETE', '/v1/admin/tenants/cache-a/cache');
    assert.equal(purged.status, 200, purged.text);
    assert.deepEqual(purged.body, { object: 'cache_purge', tenant: 'cache-a', deleted: 4 });
    before = stack.emulator.stats();
    assert.equal((await run(body, tenantA)).done.cache.hits, 0);
    assert.equal(stack.emulator.stats().chat_completions - before.chat_completions, 4);
    assert.equal((await run(body, tenantB)).done.cache.hits, 4, "B's entries are still there");
    assert.equal((await stack.request('DELETE', '/v1/admin/tenants/bad%20name/cache')).status, 400);
  });
});
