import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { createActivities } from '../../activities/index.js';
import { INDEXED_VALUE_TYPE } from '../../workers/search-attributes.js';
import type { BatchProgress, ProcessBatchInput } from '../../workflows/contracts.js';
import { DEFAULT_CHUNKS_PER_RUN, type processBatchWorkflow } from '../../workflows/process-batch.js';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';
import { ZERO_TALLY } from '../../workflows/tally.js';
import { INSTANT_CHUNK_ITEMS, INSTANT_ITEM_COST_USD } from './fixtures/instant-chunk-workflows.js';

type Activities = ReturnType<typeof createActivities>;

const CHUNKS = 100_000;
const ITEMS = CHUNKS * INSTANT_CHUNK_ITEMS;
/** Temporal's payload warning threshold in the docs; the server refuses at 2 MiB. */
const PAYLOAD_LIMIT = 256 * 1024;
const { EventType } = proto.temporal.api.enums.v1;
const { Payload, Payloads } = proto.temporal.api.common.v1;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

interface Measured {
  bytes: number;
  where: string;
}

/**
 * Every payload an event carries, wherever it sits (inputs, results, signal and update
 * arguments, continue-as-new input, memo, search attributes, headers), with its encoded size: a
 * `Payloads` list as a whole, a lone `Payload` (a memo or search attribute value) alone.
 */
function payloadsOf(value: unknown, where: string, out: Measured[]): void {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
  const o = value as Record<string, unknown>;
  if (Array.isArray(o.payloads) && o.payloads.every((p) => p && typeof p === 'object' && 'data' in p)) {
    out.push({ bytes: Payloads.encode(o as proto.temporal.api.common.v1.IPayloads).finish().length, where });
    return;
  }
  if (ArrayBuffer.isView(o.data) && o.metadata && typeof o.metadata === 'object') {
    out.push({ bytes: Payload.encode(o as proto.temporal.api.common.v1.IPayload).finish().length, where });
    return;
  }
  for (const [k, v] of Object.entries(o)) payloadsOf(v, `${where}.${k}`, out);
}

/** Typed fakes for what a batch workflow calls; the chunks are the stand-ins of the fixture. */
function fakeActivities(estimatePages: Array<{ from: number; count: number }>): Activities {
  const notUsed = async (): Promise<never> => {
    throw new Error('not used: chunks are stand-ins');
  };
  return {
    planBatch: async () => ({ chunkCount: CHUNKS, expectedUsd: ITEMS * INSTANT_ITEM_COST_USD }),
    chunkEstimates: async ({ from, count }) => {
      estimatePages.push({ from, count });
      const n = Math.max(Math.min(count, CHUNKS - from), 0);
      // Distinct figures per chunk, as a real plan has: nothing compresses to a repeated value.
      const expectedUsd = Array.from({ length: n }, (_, i) => INSTANT_ITEM_COST_USD * INSTANT_CHUNK_ITEMS * (1 + ((from + i) % 97) / 1000));
      return { from, expectedUsd, reserveUsd: expectedUsd.map((e) => e * 7.3) };
    },
    finishBatch: async ({ stopReason }) => ({ status: stopReason ?? 'completed', ...ZERO_TALLY, cancelled: ITEMS }),
    // The real reconcile asks Temporal; here every silent chunk counts as closed with nothing done.
    reconcileChunks: async ({ chunkIndexes }) => chunkIndexes.map((chunkIndex) => ({ chunkIndex, tally: ZERO_TALLY, error: 'closed' })),
    deliverWebhook: async () => ({ delivered: true, status: 204 }),
    submitChunk: notUsed,
    pollProviderBatch: notUsed,
    collectChunk: notUsed,
    tallyChunkRange: notUsed,
    closeChunk: notUsed,
    cancelChunk: notUsed,
    runRealtimeChunk: notUsed,
  };
}

function testServerPath(): string | undefined {
  const local = fileURLToPath(new URL('../../.tools/venv/bin/temporal-test-server', import.meta.url));
  return process.env.TEMPORAL_TEST_SERVER_PATH ?? (existsSync(local) ? local : undefined);
}

/**
 * Issue 6: whatever a batch's size, what its workflow carries stays small. A plan of 100,000
 * chunks runs through continue-as-new runs of the real batch workflow (chunks are stand-ins that
 * report at once) on the time-skipping server, and every payload of every run's history is
 * measured.
 */
describe('a 100,000-chunk batch, time skipping', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    const path = testServerPath();
    env = await TestWorkflowEnvironment.createTimeSkipping(path ? { server: { executable: { type: 'existing-path', path } } } : {});
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((k) => [k.name, INDEXED_VALUE_TYPE[k.type]])),
    });
  });
  after(async () => env?.teardown());

  test('two continue-as-new runs and a cancel: every payload of every run is under 256 KiB', async () => {
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./fixtures/instant-chunk-workflows.ts', import.meta.url)),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const estimatePages: Array<{ from: number; count: number }> = [];
    const taskQueue = 'scale';
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: fakeActivities(estimatePages),
    });
    const batchId = 'batch_scale100k';
    const args: ProcessBatchInput = {
      batchId,
      itemCount: ITEMS,
      // The API's largest window: the most chunks a continue-as-new can carry in flight.
      maxParallelChunks: 100,
      maxAttempts: 3,
      poll: { initialMs: 5_000, maxMs: 60_000, factor: 2 },
      limits: { maxCostUsd: 10_000, deadlineMs: Date.now() + 7 * 24 * 3_600_000, onBudgetExhausted: 'wait' },
      webhook: true,
    };

    /** The runs of the batch so far, first to current, each with its history. */
    const runs = async () => {
      const out: Array<{ runId: string; events: HistoryEvent[] }> = [];
      let runId: string | null | undefined = firstRunId;
      while (runId) {
        const history = await env.client.workflow.getHandle(batchId, runId).fetchHistory();
        const events = history.events ?? [];
        out.push({ runId, events });
        runId = events.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)?.workflowExecutionContinuedAsNewEventAttributes
          ?.newExecutionRunId;
      }
      return out;
    };

    let firstRunId = '';
    const started = Date.now();
    const { result, progressAtCancel } = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start<typeof processBatchWorkflow>('processBatchWorkflow', {
        taskQueue,
        workflowId: batchId,
        args: [args],
      });
      firstRunId = handle.firstExecutionRunId;
      for (;;) {
        if ((await runs()).length >= 3) break;
        if (Date.now() - started > 240_000) throw new Error('two continue-as-new runs did not happen in 4 minutes');
        await new Promise((r) => setTimeout(r, 1000));
      }
      // Messages to the third run: each answers with the progress, a payload of its own.
      await handle.executeUpdate('pause');
      await handle.executeUpdate('setLimits', { args: [{ maxCostUsd: 20_000 }] });
      await handle.executeUpdate('resume');
      const progressAtCancel = await handle.executeUpdate<BatchProgress>('cancel');
      return { result: await handle.result(), progressAtCancel };
    });

    const all = await runs();
    const measured: Measured[] = [];
    let continueAsNew = 0;
    let signals = 0;
    let updates = 0;
    let maxEvents = 0;
    for (const [r, run] of all.entries()) {
      maxEvents = Math.max(maxEvents, run.events.length);
      for (const e of run.events) {
        const type = EventType[e.eventType ?? 0] ?? String(e.eventType);
        if (e.workflowExecutionContinuedAsNewEventAttributes) continueAsNew++;
        if (e.workflowExecutionSignaledEventAttributes) signals++;
        if (e.workflowExecutionUpdateAcceptedEventAttributes) updates++;
        payloadsOf(e, `run ${r + 1} event ${e.eventId} ${type}`, measured);
      }
    }
    measured.sort((a, b) => b.bytes - a.bytes);
    const largest = measured[0]!;
    const canInput = Math.max(...measured.filter((m) => m.where.includes('CONTINUED_AS_NEW')).map((m) => m.bytes));
    const elapsed = Date.now() - started;
    console.log(
      `100,000-chunk plan: ${all.length} runs (${continueAsNew} continue-as-new), ${signals} chunk reports, ${updates} updates, ` +
        `${measured.length} payloads; largest ${largest.bytes} B at ${largest.where}; ` +
        `largest continue-as-new input ${canInput} B; longest run ${maxEvents} events; ` +
        `${estimatePages.length} estimate pages; ${elapsed} ms`,
    );

    assert.ok(continueAsNew >= 2, `at least two continue-as-new (${continueAsNew})`);
    assert.ok(signals >= 2 * DEFAULT_CHUNKS_PER_RUN, `chunk reports reached the runs (${signals})`);
    assert.equal(updates, 4, 'pause, setLimits, resume and cancel were accepted');
    const ofKind = (kind: string) => measured.some((m) => m.where.includes(kind));
    for (const kind of ['WORKFLOW_EXECUTION_STARTED', 'WORKFLOW_EXECUTION_CONTINUED_AS_NEW', 'SIGNALED', 'UPDATE_COMPLETED', 'COMPLETED']) {
      assert.ok(ofKind(kind), `payloads of ${kind} were measured`);
    }
    for (const m of measured) assert.ok(m.bytes < PAYLOAD_LIMIT, `${m.where}: ${m.bytes} B`);
    // The estimates came a page at a time, never as a whole plan.
    assert.ok(estimatePages.length >= 2 && estimatePages.every((p) => p.count <= 200), JSON.stringify(estimatePages.slice(0, 3)));
    // The sums survived the continue-as-new runs: what the chunks reported, counted once.
    const chunksDone = progressAtCancel.chunks.completed;
    assert.ok(chunksDone >= 2 * DEFAULT_CHUNKS_PER_RUN, `chunks completed before the cancel: ${chunksDone}`);
    assert.equal(progressAtCancel.succeeded + progressAtCancel.failed, chunksDone * INSTANT_CHUNK_ITEMS);
    assert.ok(Math.abs(progressAtCancel.costUsd - chunksDone * INSTANT_CHUNK_ITEMS * INSTANT_ITEM_COST_USD) < 1e-9);
    assert.equal(progressAtCancel.chunks.total, CHUNKS);
    assert.equal(result.status, 'cancelled');
    assert.equal(result.chunkCount, CHUNKS);
  });
});
