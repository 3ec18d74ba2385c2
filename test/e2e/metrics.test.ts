import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { freePort } from '../../stack/temporal-server.js';
import { useStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'metrics-token-for-the-test-0123456789';
const MODEL = { provider: 'openai', model: 'gpt-4.1-mini' };
const SCHEMA = {
  type: 'json_schema',
  json_schema: {
    name: 'label',
    schema: { type: 'object', properties: { label: { type: 'string' } }, required: ['label'], additionalProperties: false },
  },
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(url: string, token: string | null = TOKEN): Promise<{ status: number; text: string; samples: Sample[] }> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, text, samples: res.status === 200 ? parse(text) : [] };
}

/** The temporal_* metrics the Grafana dashboard queries (deploy/grafana/drover.json). */
function dashboardTemporalMetrics(): string[] {
  const dash = JSON.parse(readFileSync(new URL('../../deploy/grafana/drover.json', import.meta.url), 'utf8')) as {
    panels: Array<{ targets?: Array<{ expr: string }> }>;
  };
  const names = dash.panels.flatMap((p) =>
    (p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\b(temporal_[a-z_]+)/g)].map((m) => m[1]!)),
  );
  return [...new Set(names.map((n) => n.replace(/_(bucket|count|sum)$/, '')))];
}

/** Result rows by path and status, from the store: what the items counter must have counted. */
async function storeCounts(stack: TestStack, batchIds: string[]): Promise<Array<{ path: string; status: string; n: number }>> {
  const { rows } = await stack.db.query(
    `SELECT COALESCE(path, 'none') AS path, status, count(*)::int AS n FROM results WHERE batch_id = ANY($1) GROUP BY 1, 2`,
    [batchIds],
  );
  return rows;
}

/**
 * Metrics after real batches: the worker's counters match the store and the batches' spend,
 * provider calls are timed, the API's gauges read the store and Temporal, and the Temporal SDK's
 * own metrics come through the worker's port.
 */
describe('metrics', () => {
  const stack = useStack({ processingMs: 200, api: { DROVER_METRICS_TOKEN: TOKEN } });
  let workerUrl = '';

  test('a worker with DROVER_METRICS_PORT serves its metrics and the Temporal SDK’s, behind the token', async () => {
    const port = await freePort();
    await stack.startWorker({
      DROVER_METRICS_PORT: String(port),
      DROVER_METRICS_TOKEN: TOKEN,
      // A shared limit so the realtime calls below go through the rate limiter.
      DROVER_RATE_LIMITS: JSON.stringify({ openai: { rpm: 60_000 } }),
    });
    workerUrl = `http://127.0.0.1:${port}/metrics`;
    assert.equal((await scrape(workerUrl, null)).status, 401);
    assert.equal((await scrape(workerUrl, 'wrong-token-wrong-token-wrong')).status, 401);
    // The SDK's exporter reports once its first metrics are recorded (polls start at once).
    const first = await until(
      () => scrape(workerUrl),
      (r) => r.samples.some((s) => s.name.startsWith('temporal_')),
      { what: 'temporal_ metrics on the worker port', timeoutMs: 30_000 },
    );
    assert.equal(value(first.samples, 'drover_temporal_metrics_up'), 1);
    assert.ok(
      first.samples.some((s) => s.name === 'process_resident_memory_bytes'),
      'process metrics',
    );
    assert.equal((await fetch(workerUrl.replace('/metrics', '/other'))).status, 404);
  });

  test('items and cost are counted once per item, equal to the store and the spend; provider calls are timed', async () => {
    // Batch path: every 5th line fails once with a 500 and succeeds on the second attempt: each of
    // those items is written pending, then succeeded, and must count once.
    stack.emulator.setFaults({ line_errors: { every: 5, status: 500 } });
    const a = await stack.post('/v1/batches', {
      model: MODEL.model,
      mode: 'batch',
      chunk_size: 20,
      max_attempts: 2,
      items: Array.from({ length: 40 }, (_, i) => ({ id: `a${i}`, content: `ticket ${i}` })),
    });
    assert.equal(a.status, 202, a.text);
    const doneA = await stack.waitForBatch(a.body.id, 60_000);
    assert.equal(doneA.status, 'completed', JSON.stringify(doneA));
    // Realtime: every 3rd answer is broken JSON and there is one attempt, so those items fail
    // (and are paid for); one call meets a 500, which the activity retries.
    stack.emulator.setFaults({
      malformed_json: { every: 3, once: false },
      http: [{ path: '/v1/chat/completions', status: 500, count: 1 }],
    });
    const b = await stack.post('/v1/batches', {
      model: MODEL.model,
      mode: 'realtime',
      max_attempts: 1,
      response_format: SCHEMA,
      items: Array.from({ length: 9 }, (_, i) => ({ id: `b${i}`, content: `ticket ${i}` })),
    });
    assert.equal(b.status, 202, b.text);
    const doneB = await stack.waitForBatch(b.body.id, 60_000);
    stack.emulator.setFaults({});
    assert.equal(doneB.status, 'completed_with_failures', JSON.stringify(doneB));
    assert.ok(doneB.counts.failed > 0 && doneB.counts.succeeded > 0, JSON.stringify(doneB.counts));

    const { samples } = await scrape(workerUrl);
    const expected = await storeCounts(stack, [a.body.id, b.body.id]);
    assert.deepEqual(
      expected.map((r) => r.path + '/' + r.status).sort(),
      ['batch/succeeded', 'realtime/failed', 'realtime/succeeded'],
      'the store holds the paths and statuses the batches took',
    );
    for (const r of expected) {
      assert.equal(value(samples, 'drover_items_total', { ...MODEL, path: r.path, status: r.status }), r.n, `${r.path}/${r.status}`);
    }
    assert.equal(value(samples, 'drover_items_total'), 49, 'each of the 49 items counted once');
    const spent = doneA.cost.spent_usd + doneB.cost.spent_usd;
    const cost = value(samples, 'drover_cost_usd_total', MODEL);
    assert.ok(spent > 0);
    assert.ok(Math.abs(cost - spent) < 1e-9, `cost counter ${cost} equals the batches' spend ${spent}`);

    const calls = (operation: string) =>
      value(samples, 'drover_provider_request_duration_seconds_count', { provider: 'openai', operation });
    // Two chunks, each sent twice (the second attempt resends the failed lines).
    assert.equal(calls('create_batch'), 4);
    assert.equal(calls('results'), 4);
    assert.ok(calls('retrieve') >= 4);
    assert.equal(calls('complete'), 10, 'nine items, one of them called twice');
    assert.ok(value(samples, 'drover_provider_request_duration_seconds_sum', { provider: 'openai', operation: 'complete' }) > 0);
    assert.equal(value(samples, 'drover_provider_errors_total', { provider: 'openai', type: 'ProviderUnavailable' }), 1);
    assert.equal(value(samples, 'drover_rate_limit_wait_seconds_count', { limit: 'openai' }), 10, 'each realtime call took a token');
    // The Temporal SDK's metrics the dashboard charts are there, under the names it queries.
    const temporal = dashboardTemporalMetrics();
    assert.ok(temporal.length >= 3);
    for (const name of temporal)
      assert.ok(
        samples.some((s) => s.name.startsWith(name)),
        `${name} in the worker's scrape`,
      );
  });

  test('the API serves gauges read at scrape time: batches by status (waiting for budget too) and provider batches in flight', async () => {
    assert.equal((await scrape(`${stack.api.url}/metrics`, null)).status, 401, 'the token is asked for');
    assert.equal((await scrape(`${stack.api.url}/metrics`, stack.adminKey)).status, 401, 'an API key is not the token');
    const before = await scrape(`${stack.api.url}/metrics`);
    assert.equal(before.status, 200, before.text);
    assert.equal(value(before.samples, 'drover_batches', { status: 'completed' }), 1);
    assert.equal(value(before.samples, 'drover_batches', { status: 'completed_with_failures' }), 1);
    assert.equal(value(before.samples, 'drover_provider_batches_in_flight'), 0, 'every provider batch collected');

    // Two chunks whose provider batches take a while: both show in flight.
    stack.emulator.setFaults({ processing_ms: 4000 });
    const slow = await stack.post('/v1/batches', {
      model: MODEL.model,
      mode: 'batch',
      chunk_size: 10,
      items: Array.from({ length: 20 }, (_, i) => ({ id: `s${i}`, content: `ticket ${i}` })),
    });
    // A limit below its first chunk's worst case: this one waits for budget.
    const poor = await stack.post('/v1/batches', {
      model: MODEL.model,
      mode: 'batch',
      max_cost_usd: 0.000001,
      items: [{ id: 'p0', content: 'ticket' }],
    });
    assert.equal(poor.status, 202, poor.text);
    const during = await until(
      () => scrape(`${stack.api.url}/metrics`),
      (r) =>
        value(r.samples, 'drover_provider_batches_in_flight', { provider: 'openai' }) === 2 &&
        value(r.samples, 'drover_batches', { status: 'awaiting_budget' }) === 1,
      { what: 'two provider batches in flight and one batch awaiting budget', timeoutMs: 30_000 },
    );
    assert.equal(
      value(during.samples, 'drover_batches', { status: 'running' }),
      1,
      'the slow batch runs; the waiting one is not counted twice',
    );
    assert.equal(value(during.samples, 'drover_provider_batches_unclaimed'), 0);
    // While its provider batches process, the slow batch writes nothing: its idle time grows.
    await until(
      () => scrape(`${stack.api.url}/metrics`),
      (r) => value(r.samples, 'drover_batch_max_idle_seconds', { mode: 'batch' }) >= 1.5,
      { what: 'the running batch idle for 1.5 s', timeoutMs: 30_000 },
    );
    await stack.waitForBatch(slow.body.id, 60_000);
    stack.emulator.setFaults({});
    // Left running: only the batch waiting for budget, which is idle on purpose and not counted.
    const waiting = await scrape(`${stack.api.url}/metrics`);
    assert.equal(value(waiting.samples, 'drover_batches', { status: 'awaiting_budget' }), 1);
    assert.ok(!waiting.samples.some((s) => s.name === 'drover_batch_max_idle_seconds'), waiting.text);
    await stack.post(`/v1/batches/${poor.body.id}/cancel`, {});
    await stack.waitForBatch(poor.body.id, 60_000);
    const after = await scrape(`${stack.api.url}/metrics`);
    assert.equal(value(after.samples, 'drover_batches', { status: 'completed' }), 2);
    assert.equal(value(after.samples, 'drover_batches', { status: 'cancelled' }), 1);
    assert.equal(value(after.samples, 'drover_batches', { status: 'awaiting_budget' }), 0);
    assert.equal(value(after.samples, 'drover_provider_batches_in_flight'), 0);
  });
});
