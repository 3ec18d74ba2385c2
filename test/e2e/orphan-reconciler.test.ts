import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GoogleGenAI } from '@google/genai';
import OpenAI, { toFile } from 'openai';
import { AnthropicBatchProvider, createAnthropicClient } from '../../providers/anthropic.js';
import { jobKey, markCreating, reserveJob } from '../../store/provider-jobs.js';
import type { ReconcileOrphansResult } from '../../workflows/reconcile-orphans.js';
import { useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const items = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, content: `review ${i}` }));

/**
 * The scheduled orphan reconciler against the whole stack: provider batches made at the emulator
 * as a crashed Drover would have left them are cancelled by one run of the workflow, while
 * batches Drover did not make, and a running chunk's batch, are left alone.
 */
describe('orphan reconciler', () => {
  const stack = useStack({ processingMs: 300, worker: true });

  test('the worker schedules it every 15 minutes', async () => {
    const d = await stack.client.schedule.getHandle('drover-orphan-reconciler').describe();
    assert.equal(d.spec.intervals?.[0]?.every, 15 * 60_000);
    assert.equal(d.action.type, 'startWorkflow');
    assert.equal(d.action.type === 'startWorkflow' && d.action.workflowType, 'reconcileOrphansWorkflow');
    assert.equal(d.action.type === 'startWorkflow' && d.action.taskQueue, stack.taskQueue);
  });

  test("one run cancels Drover's orphans at every provider and leaves everything else running", async () => {
    // A Drover batch that has ended: the keys below name its chunk, as a crashed attempt's would.
    const done = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'batch', items: items(3, 'd') });
    assert.equal(done.status, 202, done.text);
    const ended = await stack.waitForBatch(done.body.id);
    assert.equal(ended.status, 'completed');
    const batchId: string = ended.id;

    // Everything made from here on keeps running until cancelled.
    stack.emulator.reset();
    stack.emulator.setFaults({ processing_ms: 600_000 });
    const live = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'batch', items: items(4, 'l') });
    assert.equal(live.status, 202, live.text);
    const { rows: liveJobs } = await until(
      () =>
        stack.db.query('SELECT provider_batch_id FROM provider_jobs WHERE batch_id = $1 AND provider_batch_id IS NOT NULL', [live.body.id]),
      (r) => r.rows.length === 1,
      { what: 'the running batch submitted its chunk' },
    );
    const running = liveJobs[0].provider_batch_id as string;

    const openai = new OpenAI({ apiKey: 'sk-other', baseURL: stack.emulator.openaiBaseURL, maxRetries: 0 });
    const line = JSON.stringify({
      custom_id: '0',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] },
    });
    const openaiBatch = async (metadata: Record<string, string>) => {
      const file = await openai.files.create({ file: await toFile(Buffer.from(line + '\n'), 'in.jsonl'), purpose: 'batch' });
      return (await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata }))
        .id;
    };
    const openaiOrphan = await openaiBatch({ drover_key: jobKey(batchId, 0, 9) });
    const openaiForeign = await openaiBatch({ drover_key: jobKey('batch_of_another_store', 0, 1) });
    const openaiPlain = await openaiBatch({ team: 'research' });

    const gemini = new GoogleGenAI({ apiKey: 'other', httpOptions: { baseUrl: stack.emulator.url } });
    const geminiBatch = async (displayName: string) =>
      (
        await gemini.batches.create({
          model: 'gemini-2.5-flash',
          src: [{ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }],
          config: { displayName },
        })
      ).name!;
    const geminiOrphan = await geminiBatch(jobKey(batchId, 0, 8));
    const geminiForeign = await geminiBatch('nightly-eval');

    // Anthropic keeps no key on a batch: this one is a create that died before it was recorded
    // (the job marked `creating`, the batch made with the job's tag); the other is someone else's.
    const anthropicKey = jobKey(batchId, 0, 7);
    await reserveJob(stack.db, { tenant_id: 'default', batch_id: batchId, chunk_idx: 0, attempt: 7, provider: 'anthropic', item_count: 3 });
    assert.ok(await markCreating(stack.db, anthropicKey));
    const anthropic = new AnthropicBatchProvider(
      createAnthropicClient({ apiKey: 'sk-ant-test-secret-never-logged', baseURL: stack.emulator.url }),
    );
    const request = { model: 'claude-sonnet-4-5', messages: [{ role: 'user' as const, content: 'hi' }] };
    const anthropicOrphan = await anthropic.createBatch(
      anthropicKey,
      [0, 1, 2].map((i) => ({ customId: String(i), request })),
      null,
    );
    const anthropicSdk = createAnthropicClient({ apiKey: 'sk-ant-other', baseURL: stack.emulator.url });
    const anthropicForeign = (
      await anthropicSdk.messages.batches.create({
        requests: [0, 1].map((i) => ({
          custom_id: `q${i}`,
          params: { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [request.messages[0]!] },
        })),
      })
    ).id;

    const result: ReconcileOrphansResult = await stack.client.workflow.execute('reconcileOrphansWorkflow', {
      taskQueue: stack.taskQueue,
      workflowId: `reconcile-once-${Date.now()}`,
      args: [{}],
    });
    stack.emulator.setFaults({});

    const cancelled = result.providers.flatMap((p) => p.cancelled.map((c) => c.id)).sort();
    assert.deepEqual(cancelled, [openaiOrphan, geminiOrphan, anthropicOrphan].sort(), JSON.stringify(result));
    assert.equal(result.cancelled, 3);
    for (const p of result.providers) assert.equal(p.error, undefined, `${p.provider}: ${p.error}`);
    const by = Object.fromEntries(result.providers.map((p) => [p.provider, p]));
    assert.equal(by.openai?.left.collected, 1, 'the running chunk keeps its batch');
    assert.equal(by.openai?.left.not_drovers, 2);
    assert.equal(by.gemini?.left.not_drovers, 1);
    assert.equal(by.anthropic?.settled, 1, "the lost Anthropic create was found by its job's tag and recorded");
    assert.equal(by.anthropic?.left.not_drovers, 1);

    // The provider's own view.
    assert.equal((await openai.batches.retrieve(openaiOrphan)).status.startsWith('cancel'), true);
    for (const id of [openaiForeign, openaiPlain, running]) assert.equal((await openai.batches.retrieve(id)).status, 'in_progress', id);
    assert.match(String((await gemini.batches.get({ name: geminiOrphan })).state), /CANCEL/);
    assert.match(String((await gemini.batches.get({ name: geminiForeign })).state), /PENDING|RUNNING/);
    assert.notEqual((await anthropicSdk.messages.batches.retrieve(anthropicOrphan)).cancel_initiated_at, null);
    assert.equal((await anthropicSdk.messages.batches.retrieve(anthropicForeign)).processing_status, 'in_progress');
    const stats = stack.emulator.stats();
    assert.equal(stats.anthropic.batch_cancels, 1);

    // A second run finds nothing more to do.
    const again: ReconcileOrphansResult = await stack.client.workflow.execute('reconcileOrphansWorkflow', {
      taskQueue: stack.taskQueue,
      workflowId: `reconcile-again-${Date.now()}`,
      args: [{}],
    });
    assert.equal(again.cancelled, 0, JSON.stringify(again));

    const cancel = await stack.post(`/v1/batches/${live.body.id}/cancel`, {});
    assert.equal(cancel.status, 202, cancel.text);
    await stack.waitForBatch(live.body.id);
  });
});
