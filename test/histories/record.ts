/**
 * Records real workflow histories for the replay test (test/workflows/replay.test.ts): each
 * scenario runs a batch through the whole stack (Temporal dev server, PostgreSQL, emulator, API,
 * a worker) and every execution it made (batch runs, chunks, webhook deliveries) is written to
 * test/histories/<scenario>/. Re-record only when a workflow change is meant to be incompatible
 * and ships as a new Worker Deployment version; a compatible change keeps these replaying.
 * A patched change adds scenarios of its own; record just those with RECORD_ONLY, so the
 * histories of older code stay as they were:
 *
 *   npm run record:histories
 *   RECORD_ONLY=attempt-budget-resubmitted,attempt-budget-waits npm run record:histories
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import proto from '@temporalio/proto';
import { TestStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const OUT = new URL('./', import.meta.url);
const items = (n: number, p: string) =>
  Array.from({ length: n }, (_, i) => ({ id: `${p}${i}`, content: `Ticket ${i}: the parcel arrived late.` }));
const BATCH = { model: 'gpt-4.1-mini', mode: 'batch', chunk_size: 10, max_parallel_chunks: 2 };

async function saveHistories(stack: TestStack, scenario: string, batchId: string): Promise<number> {
  const dir = new URL(`${scenario}/`, OUT);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  let n = 0;
  for await (const { workflowId, history } of stack.client.workflow
    .list({ query: `WorkflowId STARTS_WITH "${batchId}"` })
    .intoHistories()) {
    const History = proto.temporal.api.history.v1.History;
    const object = History.toObject(History.fromObject(history as Record<string, unknown>), {
      longs: String,
      enums: String,
      bytes: String,
    });
    const name = `${workflowId.slice(batchId.length).replace(/^\//, '') || 'batch'}-${++n}.json`;
    await writeFile(new URL(name, dir), JSON.stringify(object));
  }
  return n;
}

describe('record workflow histories', () => {
  const receiver = createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end()));
  const stack = new TestStack({
    processingMs: 300,
    allowPrivateWebhooks: true,
    api: { DROVER_CHUNKS_PER_RUN: '2', DROVER_RECONCILE_MS: '1500' },
    // Plain payloads, as every recorded history has: the replay test carries no key.
    encryptionKeys: false,
  });
  after(async () => {
    await stack.stop();
    receiver.close();
  });

  const only = process.env.RECORD_ONLY?.split(',').filter(Boolean);
  async function run(scenario: string, body: object, steer?: (id: string) => Promise<void>) {
    if (only && !only.includes(scenario)) return;
    const created = await stack.post('/v1/batches', body);
    if (created.status !== 202) throw new Error(created.text);
    await steer?.(created.body.id);
    const done = await stack.waitForBatch(created.body.id, 120_000);
    // Webhook deliveries run on after the batch: let them finish so their histories are whole.
    await new Promise((r) => setTimeout(r, 1500));
    const n = await saveHistories(stack, scenario, done.id);
    console.log(`${scenario}: ${done.status}, ${n} histories`);
  }

  test('scenarios', async () => {
    await stack.start();
    let worker = await stack.startWorker();
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const webhook_url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const chunk0 = (id: string) => stack.client.workflow.getHandle(`${id}/chunk-0`);
    const running = (id: string) =>
      until(
        () =>
          chunk0(id)
            .describe()
            .then(
              (d) => d.status.name,
              () => 'NONE',
            ),
        (s) => s === 'RUNNING',
      );

    await run('completed-continue-as-new', { ...BATCH, items: items(50, 'ok'), webhook_url });
    stack.emulator.setFaults({ line_errors: { every: 4, status: 500 } });
    await run('resubmitted-lines', { ...BATCH, items: items(20, 'rs') });
    stack.emulator.setFaults({ malformed_json: { every: 3 } });
    await run('realtime-repair', {
      ...BATCH,
      mode: 'realtime',
      items: items(12, 'rt'),
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'label',
          schema: { type: 'object', properties: { label: { type: 'string' } }, required: ['label'], additionalProperties: false },
        },
      },
    });
    stack.emulator.setFaults({ processing_ms: 30_000 });
    await run('cancelled', { ...BATCH, items: items(40, 'cx'), webhook_url }, async (id) => {
      await running(id);
      await stack.post(`/v1/batches/${id}/cancel`, {});
    });
    await run('timed-out', { ...BATCH, items: items(20, 'to'), time_limit_seconds: 3 });
    await run('chunk-terminated', { ...BATCH, items: items(20, 'tm') }, async (id) => {
      await running(id);
      await chunk0(id).terminate('recorded: an operator pressed Terminate');
      await stack.post(`/v1/batches/${id}/cancel`, {});
    });
    stack.emulator.setFaults({ processing_ms: 1500 });
    await run('paused-limits-resumed', { ...BATCH, items: items(40, 'pl'), max_parallel_chunks: 1 }, async (id) => {
      await running(id);
      await stack.post(`/v1/batches/${id}/pause`, {});
      await stack.request('PATCH', `/v1/batches/${id}/limits`, JSON.stringify({ max_cost_usd: 5 }), { 'content-type': 'application/json' });
      await stack.post(`/v1/batches/${id}/resume`, {});
    });
    stack.emulator.setFaults({});
    // Dear prices make the real spend of a chunk visible beside its reservation.
    const dear = {
      ...BATCH,
      items: items(30, 'bg'),
      max_parallel_chunks: 1,
      max_output_tokens: 40,
      prices: { input_per_mtok: 1000, output_per_mtok: 1000 },
    };
    const reserve = (await stack.post('/v1/batches/estimate', dear)).body.cost.high_usd / 3;
    await run('awaiting-budget-raised', { ...dear, max_cost_usd: Number((reserve * 1.2).toFixed(4)) }, async (id) => {
      await until(
        () => stack.get(`/v1/batches/${id}`),
        (r) => r.body.status === 'awaiting_budget',
      );
      await stack.request('PATCH', `/v1/batches/${id}/limits`, JSON.stringify({ max_cost_usd: reserve * 10 }), {
        'content-type': 'application/json',
      });
    });
    stack.emulator.setFaults({ http: [{ path: '/v1/batches', method: 'POST', status: 400, count: 100 }] });
    await run('failed-create', { ...BATCH, items: items(20, 'fc'), webhook_url });
    // Under patch 'attempt-budget' (a hard cost cap): each resend reports and waits for its grant.
    stack.emulator.setFaults({ line_errors: { every: 4, status: 500 } });
    await run('attempt-budget-resubmitted', { ...BATCH, items: items(20, 'ar') });
    stack.emulator.setFaults({ malformed_json: { every: 3 } });
    await run('attempt-budget-realtime-repair', {
      ...BATCH,
      mode: 'realtime',
      items: items(12, 'ap'),
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'label',
          schema: { type: 'object', properties: { label: { type: 'string' } }, required: ['label'], additionalProperties: false },
        },
      },
    });
    // Every answer malformed under a limit that pays for the first attempts, not all repairs:
    // resends wait for budget, a raise lets them go on.
    stack.emulator.setFaults({ malformed_json: { every: 1, once: false } });
    const labelled = {
      ...dear,
      items: items(20, 'aw'),
      max_output_tokens: undefined,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'label',
          schema: {
            type: 'object',
            properties: { label: { type: 'string', enum: ['a', 'b'] } },
            required: ['label'],
            additionalProperties: false,
          },
        },
      },
    };
    const firstAttempts = (await stack.post('/v1/batches/estimate', labelled)).body.cost.high_usd;
    await run('attempt-budget-waits', { ...labelled, max_cost_usd: Number(firstAttempts.toFixed(6)) }, async (id) => {
      await until(
        () => stack.get(`/v1/batches/${id}`),
        (r) => r.body.status === 'awaiting_budget' && r.body.cost.spent_usd > 0,
      );
      await stack.request('PATCH', `/v1/batches/${id}/limits`, JSON.stringify({ max_cost_usd: firstAttempts * 10 }), {
        'content-type': 'application/json',
      });
    });
    // Patch 'tenant-budget': a tenant with a monthly cap reserves each attempt against it.
    const cap = (usd: number | null) =>
      stack.request('PATCH', '/v1/admin/tenants/default/quotas', JSON.stringify({ monthly_spend_usd: usd }), {
        'content-type': 'application/json',
      });
    if (!only || only.includes('tenant-budget')) await cap(100);
    stack.emulator.setFaults({ line_errors: { every: 4, status: 500 } });
    await run('tenant-budget', { ...BATCH, items: items(20, 'tb') });
    if (!only || only.includes('tenant-budget')) await cap(null);
    // Patch 'salvage-failed-attempt': a chunk whose poll is refused cancels its provider batch and keeps what it answered.
    stack.emulator.setFaults({ processing_ms: 3000 });
    await run('salvage-failed-poll', { ...BATCH, items: items(20, 'sf') }, async (id) => {
      await until(
        () => stack.db.query('SELECT count(*)::int AS n FROM provider_jobs WHERE batch_id = $1 AND provider_batch_id IS NOT NULL', [id]),
        (r) => r.rows[0].n > 0,
      );
      stack.emulator.setFaults({ http: [{ path: '/v1/batches/', method: 'GET', status: 400, count: 1 }] });
    });
    // Patch 'chunk-cancelled-while-an-activity-died': cancelled while its create is in flight, then the worker dies.
    stack.emulator.setFaults({ create_delay_ms: 3000 });
    await run('cancelled-worker-died', { ...BATCH, items: items(10, 'cd') }, async (id) => {
      await until(
        () => stack.db.query(`SELECT count(*)::int AS n FROM provider_jobs WHERE batch_id = $1 AND status = 'creating'`, [id]),
        (r) => r.rows[0].n > 0,
      );
      await stack.post(`/v1/batches/${id}/cancel`, {});
      await new Promise((r) => setTimeout(r, 300));
      await worker.kill('SIGKILL');
      worker = await stack.startWorker();
    });
    // Patch 'drover-kind': chunks and webhook deliveries start with their DroverKind; 'exact-drover-status' marks the plan.
    stack.emulator.setFaults({});
    await run('drover-kind', { ...BATCH, items: items(20, 'dk'), webhook_url });
    // Patch 'exact-drover-status': a Temporal cancel before the plan (no worker yet) ends the batch `cancelled`.
    if (!only || only.includes('cancelled-while-planning')) await worker.kill('SIGTERM');
    await run('cancelled-while-planning', { ...BATCH, items: items(10, 'cw'), webhook_url }, async (id) => {
      await stack.client.workflow.getHandle(id).cancel();
      worker = await stack.startWorker();
    });
    stack.emulator.setFaults({ processing_ms: 2000 });
    await run('provider-forgot', { ...BATCH, items: items(20, 'pf'), max_attempts: 3 }, async (id) => {
      await until(
        () => stack.db.query('SELECT count(*)::int AS n FROM provider_jobs WHERE batch_id = $1 AND provider_batch_id IS NOT NULL', [id]),
        (r) => r.rows[0].n > 0,
      );
      stack.emulator.reset();
    });
    // Patch 'realtime-queue': realtime attempts run on the `<queue>-realtime` task queue.
    stack.emulator.setFaults({});
    await run('realtime-queue', { ...BATCH, mode: 'realtime', items: items(12, 'rq') });
    // Patch 'result-cache': items answered before come from the cache before the plan; only the
    // others (on both sides of them) are planned and sent.
    if (!only || only.includes('result-cache-hits')) {
      const filled = await stack.post('/v1/batches', { ...BATCH, cache: 'use', items: items(15, 'rf').slice(5) });
      await stack.waitForBatch(filled.body.id, 120_000);
    }
    await run('result-cache-hits', { ...BATCH, cache: 'use', items: items(25, 'rc') });
    // Patch 'exact-money': prices whose float sums show noise, resends that report their spend,
    // a limit the ledger compares in nano-dollars, and continue-as-new carrying exact sums.
    stack.emulator.setFaults({ line_errors: { every: 4, status: 500 } });
    await run('exact-money', {
      ...BATCH,
      items: items(50, 'em'),
      prices: { input_per_mtok: 0.075, output_per_mtok: 0.3 },
      max_cost_usd: 1,
    });
    // Patch 'sample-first': a sample of 5 runs realtime, the batch awaits approval, is approved, the rest runs in chunks.
    stack.emulator.setFaults({});
    await run('sample-first', { ...BATCH, items: items(25, 'sa'), sample: { size: 5 } }, async (id) => {
      await until(
        async () => (await stack.get(`/v1/batches/${id}`)).body.status,
        (s) => s === 'awaiting_approval',
      );
      const approved = await stack.post(`/v1/batches/${id}/approve`, {});
      if (approved.status !== 200) throw new Error(approved.text);
    });
    // Patch 'sample-budget': the sample's worst case does not fit the limit, so the batch waits for
    // budget before sending it; a raise lets it run, it is approved, and the chunks report its
    // share of their tallies across continue-as-new.
    await run('sample-budget', { ...BATCH, items: items(25, 'sb'), sample: { size: 5 }, max_cost_usd: 0.00001 }, async (id) => {
      await until(
        async () => (await stack.get(`/v1/batches/${id}`)).body.status,
        (s) => s === 'awaiting_budget',
      );
      const raised = await stack.request('PATCH', `/v1/batches/${id}/limits`, JSON.stringify({ max_cost_usd: 10 }), {
        'content-type': 'application/json',
      });
      if (raised.status !== 200) throw new Error(raised.text);
      await until(
        async () => (await stack.get(`/v1/batches/${id}`)).body.status,
        (s) => s === 'awaiting_approval',
      );
      const approved = await stack.post(`/v1/batches/${id}/approve`, {});
      if (approved.status !== 200) throw new Error(approved.text);
    });
  });
});
