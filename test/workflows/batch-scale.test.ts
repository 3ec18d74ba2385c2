import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { startTemporalDevServer, type DevServer } from '../../stack/temporal-server.js';
import type { createActivities } from '../../activities/index.js';
import type { BatchProgress, ProcessBatchInput } from '../../workflows/contracts.js';
import { cancelUpdate, pauseUpdate, progressQuery, resumeUpdate, setLimitsUpdate } from '../../workflows/definitions.js';
import { SHARED_TEMPORAL_ADDRESS } from '../helpers/shared-run.js';
import { createNamespace } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';
import type { processBatchWorkflow } from '../../workflows/process-batch.js';
import { ZERO_TALLY } from '../../workflows/tally.js';
import { INSTANT_CHUNK_ITEMS, INSTANT_ITEM_COST_USD } from './fixtures/instant-chunk-workflows.js';

type Activities = ReturnType<typeof createActivities>;

const CHUNKS = 100_000;
/**
 * Chunk starts per run: 50, not the default 250, so three runs take seconds on the dev server.
 * Nothing a run carries grows with it: sums, the window's chunks, one page of estimates.
 */
const CHUNKS_PER_RUN = 50;
/** Spend runs into this limit in the third run (about 125 chunks in), where the batch waits. */
const LIMIT_USD = 0.165;
const RAISED_USD = 0.17;
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
    resolveCachedResults: async () => ({ hits: 0, savedUsd: 0 }),
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
    salvageAttempt: notUsed,
    attemptReservation: notUsed,
    holdTenantBudget: notUsed,
    reconcileOrphans: notUsed,
    runRealtimeChunk: notUsed,
    sampleReservation: notUsed,
    runSample: notUsed,
  };
}

/**
 * Issue 6: whatever a batch's size, what its workflow carries stays small. A plan of 100,000
 * chunks runs through continue-as-new runs of the real batch workflow (chunks are stand-ins that
 * report at once) on the Temporal dev server, and every payload of every run's history is
 * measured. Not the time-skipping server: no timer matters here, and that server mishandles a
 * continue-as-new that chunk reports overtake. Both servers refuse the task (UNHANDLED_COMMAND)
 * and the worker retries it; the time-skipping server then at times starts the new run anyway and
 * leaves the old one open, without its continue-as-new event.
 */
describe('a 100,000-chunk batch', () => {
  let server: DevServer | undefined;
  let connection: Connection;
  let nativeConnection: NativeConnection;
  let client: Client;
  before(async () => {
    const shared = process.env[SHARED_TEMPORAL_ADDRESS];
    server = shared ? undefined : await startTemporalDevServer();
    const address = shared ?? server!.address;
    connection = await Connection.connect({ address });
    client = new Client({ connection, namespace: await createNamespace(connection) });
    nativeConnection = await NativeConnection.connect({ address });
  });
  after(async () => {
    await nativeConnection?.close();
    await connection?.close();
    await server?.stop();
  });

  test('two continue-as-new runs and a cancel: every payload of every run is under 256 KiB', async () => {
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./fixtures/instant-chunk-workflows.ts', import.meta.url)),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const estimatePages: Array<{ from: number; count: number }> = [];
    const taskQueue = 'scale';
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: client.options.namespace,
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
      chunksPerRun: CHUNKS_PER_RUN,
      // The batch waits for budget in its third run, so the messages below reach a run that is
      // not about to continue as new.
      limits: { maxCostUsd: LIMIT_USD, deadlineMs: Date.now() + 7 * 24 * 3_600_000, onBudgetExhausted: 'wait' },
      webhook: true,
    };

    /** The runs of the batch so far, first to current, each with its history. */
    const runs = async () => {
      const out: Array<{ runId: string; events: HistoryEvent[] }> = [];
      let runId: string | null | undefined = firstRunId;
      while (runId) {
        const history: proto.temporal.api.history.v1.IHistory = await client.workflow.getHandle(batchId, runId).fetchHistory();
        const events: HistoryEvent[] = history.events ?? [];
        out.push({ runId, events });
        runId = events.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)?.workflowExecutionContinuedAsNewEventAttributes
          ?.newExecutionRunId;
      }
      return out;
    };

    let firstRunId = '';
    const started = Date.now();
    const { result, progressAtCancel, waiting } = await worker.runUntil(async () => {
      const handle = await client.workflow.start<typeof processBatchWorkflow>('processBatchWorkflow', {
        taskQueue,
        workflowId: batchId,
        args: [args],
      });
      firstRunId = handle.firstExecutionRunId;
      // Waiting for budget with no chunk in flight: a stable state, where the messages below
      // race neither a continue-as-new nor a chunk's report.
      const settled = (v: { runs: number; progress: BatchProgress }) =>
        v.runs >= 3 && v.progress.status === 'awaiting_budget' && v.progress.chunks.running === 0;
      const probe = async () => ({ runs: (await runs()).length, progress: await handle.query(progressQuery) });
      const waiting = await until(probe, settled, { what: 'the third run waiting for budget', timeoutMs: 120_000, intervalMs: 500 });
      // Messages to the third run: each answers with the progress, a payload of its own. The
      // raise lets a few more chunks start, then the batch waits again.
      const messages = (async () => {
        await handle.executeUpdate(setLimitsUpdate, { args: [{ maxCostUsd: RAISED_USD }] });
        await until(probe, (v) => settled(v) && v.progress.chunks.completed > waiting.progress.chunks.completed, {
          what: 'the batch waiting again after the raise',
          intervalMs: 500,
        });
        await handle.executeUpdate(pauseUpdate);
        await handle.executeUpdate(resumeUpdate);
        const progressAtCancel = await handle.executeUpdate(cancelUpdate);
        return { result: await handle.result(), progressAtCancel, waiting: waiting.progress };
      })();
      // A lost message would hang the test for its whole timeout: fail after two minutes instead.
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the batch did not answer its messages in 2 minutes')), 120_000);
      });
      try {
        return await Promise.race([messages, stuck]);
      } finally {
        clearTimeout(timer);
      }
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
    assert.ok(signals >= 2 * CHUNKS_PER_RUN, `chunk reports reached the runs (${signals})`);
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
    assert.ok(chunksDone >= 2 * CHUNKS_PER_RUN, `chunks completed before the cancel: ${chunksDone}`);
    assert.equal(progressAtCancel.succeeded + progressAtCancel.failed, chunksDone * INSTANT_CHUNK_ITEMS);
    assert.ok(Math.abs(progressAtCancel.costUsd - chunksDone * INSTANT_CHUNK_ITEMS * INSTANT_ITEM_COST_USD) < 1e-9);
    assert.equal(progressAtCancel.chunks.total, CHUNKS);
    // The batch waited for budget in its third run, under the limit, with the window empty.
    assert.ok(waiting.chunks.completed > 2 * CHUNKS_PER_RUN && waiting.chunks.completed < 3 * CHUNKS_PER_RUN);
    assert.ok(waiting.cost.spentUsd + waiting.cost.reservedUsd <= LIMIT_USD + 1e-9, JSON.stringify(waiting.cost));
    assert.ok(chunksDone > waiting.chunks.completed, 'the raise let more chunks start');
    assert.equal(result.status, 'cancelled');
    assert.equal(result.chunkCount, CHUNKS);
  });
});
