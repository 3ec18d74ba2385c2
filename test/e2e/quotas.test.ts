import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TERMINAL_BATCH_STATUSES } from '../../domain/responses.js';
import { useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

/** Dear prices make cents out of a few hundred tokens, so budget arithmetic is visible. */
const PRICES = { input_per_mtok: 1000, output_per_mtok: 1000 };
const items = (n: number, p: string) =>
  Array.from({ length: n }, (_, i) => ({ id: `${p}${i}`, content: `Ticket ${i}: the parcel arrived late.` }));
const quotas = (tenant: string) => `/v1/admin/tenants/${tenant}/quotas`;

describe('per-tenant quotas', () => {
  const stack = useStack({ processingMs: 300, worker: true, api: { DROVER_RECONCILE_MS: '1000' } });
  const setQuota = async (tenant: string, body: object) => {
    const res = await stack.request('PATCH', quotas(tenant), JSON.stringify(body), { 'content-type': 'application/json' });
    assert.equal(res.status, 200, res.text);
    return res.body;
  };
  const tenantClient = async (tenant: string) => stack.as((await stack.createKey({ tenant })).key);
  const waitEnded = (client: ReturnType<typeof stack.as>, id: string) =>
    until(
      () => client.get(`/v1/batches/${id}`),
      (r) => TERMINAL_BATCH_STATUSES.includes(r.body.status),
      { timeoutMs: 90_000, intervalMs: 200 },
    );

  test('requests per minute: past the quota a 429 with Retry-After; other tenants are not slowed', async () => {
    await setQuota('rpm-t', { requests_per_minute: 5 });
    const client = await tenantClient('rpm-t');
    const statuses: number[] = [];
    let limited;
    for (let i = 0; i < 7; i++) {
      const res = await client.get('/v1/batches');
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    // A minute boundary may fall inside the loop and start the count again: at least one is refused.
    assert.ok(statuses.filter((s) => s === 429).length >= 1, statuses.join(','));
    assert.equal(limited!.body.error.type, 'quota_exceeded');
    assert.match(limited!.body.error.message, /limited to 5 requests per minute/);
    const retryAfter = Number(limited!.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.equal((await (await tenantClient('other-t')).get('/v1/batches')).status, 200);
  });

  test('active batches: a submit beyond the quota is a 429 and stores nothing; room again once one ends', async () => {
    await setQuota('act-t', { max_active_batches: 1 });
    const client = await tenantClient('act-t');
    stack.emulator.setFaults({ processing_ms: 60_000 });
    try {
      const first = await client.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'batch', items: items(5, 'a') });
      assert.equal(first.status, 202, first.text);
      const before = await stack.db.query(`SELECT count(*)::int AS n FROM batches WHERE tenant_id = 'act-t'`);
      const second = await client.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'batch', items: items(5, 'b') });
      assert.equal(second.status, 429, second.text);
      assert.match(second.body.error.message, /already runs 1 batches, its limit/);
      assert.deepEqual((await stack.db.query(`SELECT count(*)::int AS n FROM batches WHERE tenant_id = 'act-t'`)).rows, before.rows);
      await client.post(`/v1/batches/${first.body.id}/cancel`, {});
      await waitEnded(client, first.body.id);
      const third = await client.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'realtime', items: items(2, 'c') });
      assert.equal(third.status, 202, third.text);
      await waitEnded(client, third.body.id);
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('monthly spend cap: batches reserve against it, one waits for the other, and the month adds up', async () => {
    const client = await tenantClient('cap-t');
    const body = (p: string) => ({ model: 'gpt-4.1-mini', mode: 'batch', items: items(10, p), max_output_tokens: 40, prices: PRICES });
    const reserve = (await client.post('/v1/batches/estimate', body('e'))).body.cost.high_usd;
    // Room for one batch's worst case and a half: the second must wait until the first settles.
    const cap = Number((reserve * 1.5).toFixed(6));
    await setQuota('cap-t', { monthly_spend_usd: cap });
    stack.emulator.setFaults({ processing_ms: 3_000 });
    try {
      const a = await client.post('/v1/batches', body('x'));
      await until(
        () => client.get(`/v1/batches/${a.body.id}`),
        (r) => r.body.status === 'running',
      );
      const b = await client.post('/v1/batches', body('y'));
      assert.equal(b.status, 202, b.text);
      const waiting = await until(
        () => client.get(`/v1/batches/${b.body.id}`),
        (r) => r.body.status === 'awaiting_budget',
      );
      assert.equal(waiting.body.cost.budget.scope, 'tenant');
      assert.match(waiting.body.status_reason, /tenant's monthly spend cap leaves \$[\d.]+ free/);
      let most = 0;
      const seen = async () => {
        const q = (await stack.get(quotas('cap-t'))).body;
        most = Math.max(most, q.month.spent_usd + q.month.reserved_usd);
        return q;
      };
      const doneA = (await until(seen, () => true)) && (await waitEnded(client, a.body.id)).body;
      const doneB = (await waitEnded(client, b.body.id)).body;
      await seen();
      assert.equal(doneA.status, 'completed');
      assert.equal(doneB.status, 'completed');
      const month = (await stack.get(quotas('cap-t'))).body.month;
      assert.ok(Math.abs(month.spent_usd - (doneA.cost.spent_usd + doneB.cost.spent_usd)) < 1e-9, JSON.stringify(month));
      assert.equal(month.reserved_usd, 0, 'nothing stays reserved once both ended');
      assert.ok(most <= cap + 1e-9, `spent + reserved reached ${most}, over the cap ${cap}`);
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('only an admin key reads or sets quotas; bad input names the field', async () => {
    const client = await tenantClient('plain-t');
    assert.equal((await client.get(quotas('plain-t'))).status, 403);
    const bad = await stack.request('PATCH', quotas('plain-t'), JSON.stringify({ requests_per_minute: 0 }), {
      'content-type': 'application/json',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.issues[0].path, 'requests_per_minute');
    const cleared = await setQuota('plain-t', { requests_per_minute: 10, monthly_spend_usd: 5 });
    assert.equal(cleared.requests_per_minute, 10);
    const removed = await setQuota('plain-t', { requests_per_minute: null });
    assert.equal(removed.requests_per_minute, null);
    assert.equal(removed.monthly_spend_usd, 5, 'a quota not given keeps its value');
  });
});
