import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';
import { DroverKind, DroverStatus } from '../../workflows/search-attributes.js';

/**
 * The Temporal UI as a live console, read the way the UI reads it: current details through the
 * built-in `__temporal_workflow_metadata` query, search attributes through describe and the
 * visibility list. Figures are checked against `GET /v1/batches/:id` at the same moment.
 */
const items = (n: number, p: string) =>
  Array.from({ length: n }, (_, i) => ({ id: `${p}${i}`, content: `Ticket ${i}: the parcel arrived late and the box was damaged.` }));
const BATCH = { model: 'gpt-4.1-mini', mode: 'batch', chunk_size: 10, max_parallel_chunks: 1 };
/** Dear prices make cents out of a few hundred tokens, so budget arithmetic is visible. */
const PRICES = { input_per_mtok: 1000, output_per_mtok: 1000 };

/** The value of a row of a details table, and the dollar figures in it. */
const row = (md: string, key: string) => md.replaceAll('\\$', '$').match(new RegExp(`^\\| ${key} \\| (.*) \\|$`, 'm'))?.[1] ?? '';
const dollars = (s: string) => [...s.matchAll(/\$([\d.]+)/g)].map((m) => Number(m[1]));
const int = (s: string) => Number(s.replaceAll(',', ''));

describe('the Temporal UI as a live console', () => {
  const stack = useStack({ processingMs: 300, worker: true });
  const details = async (workflowId: string) =>
    (await stack.client.workflow.getHandle(workflowId).query<{ currentDetails: string }>('__temporal_workflow_metadata')).currentDetails;
  const droverStatus = async (workflowId: string) =>
    (await stack.client.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(DroverStatus);
  /**
   * The store is closed by an activity just before the workflow's last task upserts its status:
   * the API can say the batch ended a moment before Temporal does.
   */
  const statusBecomes = (workflowId: string, status: string) =>
    until(
      () => droverStatus(workflowId),
      (s) => s === status,
      { what: `DroverStatus ${status}`, timeoutMs: 15_000 },
    );
  const ids = async (query: string) => {
    const out: string[] = [];
    for await (const e of stack.client.workflow.list({ query })) out.push(e.workflowId);
    return out;
  };

  test('a running batch shows the figures the API shows, its chunk its provider batch; paused it has no ETA; DroverKind lists batches alone', async () => {
    stack.emulator.setFaults({ processing_ms: 2500 });
    const created = await stack.post('/v1/batches', { ...BATCH, items: items(30, 'run'), max_cost_usd: 5 });
    assert.equal(created.status, 202, created.text);
    const id = created.body.id;

    // Chunk 0 done, chunk 1 at the provider: read details, the API, details again, until the batch held still between them.
    const { md, api } = await until(
      async () => {
        const before = await details(id);
        const api = (await stack.get(`/v1/batches/${id}`)).body;
        const after = await details(id);
        return { md: after, api, still: before === after };
      },
      (r) => r.still && r.api.status === 'running' && r.api.counts.succeeded >= 10 && r.api.chunks.running === 1,
      { what: 'a running batch with a finished chunk', timeoutMs: 60_000 },
    );
    assert.equal(row(md, 'state'), 'running');
    const done = api.counts.succeeded + api.counts.failed + api.counts.cancelled;
    assert.equal(row(md, 'progress'), `${done} / 30 items (${((done / 30) * 100).toFixed(1)}%)`);
    for (const k of ['succeeded', 'failed', 'cancelled', 'pending']) assert.equal(int(row(md, k)), api.counts[k], k);
    const [spent, limit, reserved] = dollars(row(md, 'cost'));
    assert.ok(api.cost.spent_usd > 0);
    assert.equal(spent, api.cost.spent_usd, 'spent');
    assert.equal(limit, api.cost.limit_usd, 'limit');
    assert.equal(reserved, api.cost.reserved_usd, 'reserved');
    assert.ok(reserved! > 0, 'the running chunk holds a reservation');
    const asOf = Date.parse(md.match(/_as of (.*) UTC_/)![1]!.replace(' ', 'T') + 'Z');
    const eta = Date.parse(row(md, 'ETA').replace(' UTC', 'Z').replace(' ', 'T'));
    assert.ok(eta > asOf, `ETA ${row(md, 'ETA')} after ${new Date(asOf).toISOString()}`);
    assert.ok(Date.parse(api.eta) > Date.now() - 1000, `the API's ETA ${api.eta} is not in the past`);
    assert.match(md, new RegExp(`\`GET /v1/batches/${id}/results\\?format=jsonl\``));

    const chunk = `${id}/chunk-${api.chunks.completed}`;
    const { rows } = await stack.db.query<{ provider_batch_id: string }>(
      'SELECT provider_batch_id FROM provider_jobs WHERE batch_id = $1 AND chunk_idx = $2 AND provider_batch_id IS NOT NULL',
      [id, api.chunks.completed],
    );
    assert.equal(rows.length, 1);
    const chunkMd = await until(
      () => details(chunk),
      (m) => row(m, 'state').startsWith('polling'),
    );
    assert.equal(row(chunkMd, 'provider batch'), `\`${rows[0]!.provider_batch_id}\``);
    assert.equal(row(chunkMd, 'attempt'), '1 of 3');
    assert.equal(row(chunkMd, 'path'), 'batch');

    // The list told apart: batches by DroverKind, and chunks too.
    const batches = await until(
      () => ids('DroverKind = "batch"'),
      (l) => l.includes(id),
    );
    assert.deepEqual(
      batches.filter((w) => w.includes('/')),
      [],
      'no chunk in the batch list',
    );
    const chunks = await until(
      () => ids(`DroverKind = "chunk" AND WorkflowId STARTS_WITH "${id}/"`),
      (l) => l.length >= 2,
    );
    assert.ok(
      chunks.every((w) => w.startsWith(`${id}/chunk-`)),
      chunks.join(),
    );
    assert.equal((await stack.client.workflow.getHandle(chunk).describe()).typedSearchAttributes.get(DroverKind), 'chunk');

    const paused = await stack.post(`/v1/batches/${id}/pause`, {});
    assert.equal(paused.status, 200, paused.text);
    const pausedMd = await details(id);
    assert.equal(row(pausedMd, 'state'), `paused: no new chunk starts until \`POST /v1/batches/${id}/resume\``);
    assert.equal(row(pausedMd, 'ETA'), '–');
    assert.equal((await stack.get(`/v1/batches/${id}`)).body.eta, null);
    await until(
      () => droverStatus(id),
      (s) => s === 'paused',
    );
    await stack.post(`/v1/batches/${id}/resume`, {});
    stack.emulator.setFaults({});
    const finished = await stack.waitForBatch(id);
    assert.equal(finished.status, 'completed');
    await statusBecomes(id, 'completed');
    assert.equal(row(await details(id), 'state'), 'ended: completed');
    assert.equal(row(await details(`${id}/chunk-0`), 'state'), 'done: 10 succeeded · 0 failed · 0 cancelled');
    assert.equal(row(await details(`${id}/chunk-0`), 'attempt'), '1 of 3');
  });

  test('a batch awaiting budget says why; a Temporal cancel ends it cancelled in DroverStatus', async () => {
    stack.emulator.setFaults({});
    const body = { ...BATCH, items: items(30, 'bud'), max_output_tokens: 40, prices: PRICES };
    const reserve = (await stack.post('/v1/batches/estimate', body)).body.cost.high_usd / 3;
    const created = await stack.post('/v1/batches', { ...body, max_cost_usd: Number((reserve * 1.2).toFixed(4)) });
    assert.equal(created.status, 202, created.text);
    const id = created.body.id;
    const api = (
      await until(
        () => stack.get(`/v1/batches/${id}`),
        (r) => r.body.status === 'awaiting_budget',
      )
    ).body;
    const md = await details(id);
    const state = row(md, 'state');
    assert.match(
      state,
      /^awaiting budget: the next attempt needs \$[\d.]+ reserved \(its worst case\) and the batch limit leaves \$[\d.]+ free/,
    );
    assert.deepEqual(dollars(state), [api.cost.budget.needed_usd, api.cost.budget.free_usd]);
    assert.equal(row(md, 'ETA'), '–');
    await statusBecomes(id, 'awaiting_budget');

    // The UI's Cancel button: a Temporal-level cancel.
    await stack.client.workflow.getHandle(id).cancel();
    const ended = await stack.waitForBatch(id);
    assert.equal(ended.status, 'cancelled');
    await statusBecomes(id, 'cancelled');
    assert.equal(row(await details(id), 'state'), 'ended: cancelled');
  });

  test('DroverStatus is exact when the deadline passes, and when a Temporal cancel lands before the batch is planned', async () => {
    stack.emulator.setFaults({ processing_ms: 30_000 });
    const late = await stack.post('/v1/batches', { ...BATCH, items: items(10, 'to'), time_limit_seconds: 2 });
    const timedOut = await stack.waitForBatch(late.body.id);
    assert.equal(timedOut.status, 'timed_out');
    await statusBecomes(late.body.id, 'timed_out');

    // No worker: the cancel is in the workflow's first task, before its plan.
    await stack.stopWorkers();
    const early = await stack.post('/v1/batches', { ...BATCH, items: items(10, 'cp') });
    await stack.client.workflow.getHandle(early.body.id).cancel();
    await stack.startWorker();
    const cancelled = await stack.waitForBatch(early.body.id, 60_000);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.counts.cancelled, 10);
    await statusBecomes(early.body.id, 'cancelled');
    const jobs = await stack.db.query('SELECT count(*)::int AS n FROM provider_jobs WHERE batch_id = $1', [early.body.id]);
    assert.equal(jobs.rows[0].n, 0, 'nothing was sent');
  });
});
