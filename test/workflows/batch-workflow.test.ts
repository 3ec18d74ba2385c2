import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { createActivities } from '../../activities/index.js';
import { INDEXED_VALUE_TYPE } from '../../workers/search-attributes.js';
import { DroverKind, DroverStatus, SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';
import { WORKFLOWS_PATH } from '../../workers/worker.js';
import { closingStatus } from '../../workflows/batch-ledger.js';
import type { ChunkRef, ProcessBatchInput, Tally } from '../../workflows/contracts.js';
import { processBatchWorkflow } from '../../workflows/process-batch.js';
import { ZERO_TALLY } from '../../workflows/tally.js';
import { startTimeSkippingEnvironment, TestServerLost, whileServerAnswers } from '../helpers/time-skipping.js';

type Activities = ReturnType<typeof createActivities>;

const ITEMS_PER_CHUNK = 10;
const COST_PER_ITEM = 0.001;
const HOUR = 3_600_000;

/**
 * The store as the fake activities see it: each chunk's items by outcome. Enough to check that
 * every way out of a chunk leaves every item with one outcome and the counts adding up.
 */
class FakeStore {
  chunks = new Map<number, { succeeded: number; failed: number; cancelled: number; costUsd: number; errors: string[] }>();
  constructor(readonly chunkCount: number) {
    for (let i = 0; i < chunkCount; i++) this.chunks.set(i, { succeeded: 0, failed: 0, cancelled: 0, costUsd: 0, errors: [] });
  }
  tally(i: number): Tally {
    const c = this.chunks.get(i)!;
    return { ...ZERO_TALLY, succeeded: c.succeeded, failed: c.failed, cancelled: c.cancelled, costUsd: c.costUsd };
  }
  close(i: number, status: 'failed' | 'cancelled', error: string): void {
    const c = this.chunks.get(i)!;
    const open = ITEMS_PER_CHUNK - c.succeeded - c.failed - c.cancelled;
    c[status] += open;
    if (open > 0) c.errors.push(error);
  }
  total(): Tally {
    let t = ZERO_TALLY;
    for (let i = 0; i < this.chunkCount; i++) {
      const c = this.tally(i);
      t = {
        ...t,
        succeeded: t.succeeded + c.succeeded,
        failed: t.failed + c.failed,
        cancelled: t.cancelled + c.cancelled,
        costUsd: t.costUsd + c.costUsd,
      };
    }
    return t;
  }
}

interface Behaviour {
  plan?: () => void;
  submit?: (ref: ChunkRef) => Promise<void> | void;
  poll?: (ref: { providerBatchId: string }) => { state: string; terminal: boolean };
  /** How many of the chunk's open items an attempt answers (default: all), each at COST_PER_ITEM. */
  answers?: (ref: ChunkRef) => number;
}

/** Typed fakes: the compiler keeps them in step with the real activities. */
function fakeActivities(store: FakeStore, behaviour: Behaviour = {}): Activities {
  const notUsed = async (): Promise<never> => {
    throw new Error('not used in these tests');
  };
  return {
    resolveCachedResults: async () => ({ hits: 0, savedUsd: 0 }),
    planBatch: async () => {
      behaviour.plan?.();
      return { chunkCount: store.chunkCount, expectedUsd: store.chunkCount * ITEMS_PER_CHUNK * COST_PER_ITEM };
    },
    chunkEstimates: async ({ from, count }) => {
      const n = Math.max(Math.min(count, store.chunkCount - from), 0);
      return {
        from,
        expectedUsd: Array(n).fill(ITEMS_PER_CHUNK * COST_PER_ITEM),
        reserveUsd: Array(n).fill(ITEMS_PER_CHUNK * COST_PER_ITEM * 2),
      };
    },
    finishBatch: async ({ stopReason, failed, error }) => {
      for (let i = 0; i < store.chunkCount; i++)
        store.close(i, stopReason ? 'cancelled' : 'failed', error ?? stopReason ?? 'not_processed');
      const totals = store.total();
      return { status: failed ? 'failed' : closingStatus(stopReason, totals), ...totals };
    },
    submitChunk: async (ref) => {
      await behaviour.submit?.(ref);
      return { providerBatchId: `pb-${ref.chunkIndex}-${ref.attempt}`, itemCount: ITEMS_PER_CHUNK, path: 'batch' };
    },
    pollProviderBatch: async (ref) => {
      const s = behaviour.poll?.(ref) ?? { state: 'completed', terminal: true };
      return { ...s, counts: { total: ITEMS_PER_CHUNK, completed: 0, failed: 0 } };
    },
    collectChunk: async (ref) => {
      const c = store.chunks.get(ref.chunkIndex)!;
      if (ref.stopping) return { ...store.tally(ref.chunkIndex), pending: 0 };
      const open = ITEMS_PER_CHUNK - c.succeeded - c.failed - c.cancelled;
      const answered = Math.min(behaviour.answers?.(ref) ?? open, open);
      c.succeeded += answered;
      c.costUsd += answered * COST_PER_ITEM;
      const left = open - answered;
      if (ref.final) c.failed += left;
      // What this attempt did, as the real activity reads it back from the store.
      return {
        ...ZERO_TALLY,
        succeeded: answered,
        failed: ref.final ? left : 0,
        costUsd: answered * COST_PER_ITEM,
        pending: ref.final ? 0 : left,
      };
    },
    tallyChunkRange: async ({ chunkIndex }) => store.tally(chunkIndex),
    closeChunk: async ({ chunkIndex, status, error }) => {
      store.close(chunkIndex, status, error.message);
      return store.tally(chunkIndex);
    },
    cancelChunk: async () => ({ providerBatchId: null }),
    salvageAttempt: async () => ({ providerBatchId: null }),
    holdTenantBudget: async () => ({ granted: true, freeUsd: null, capUsd: null }),
    attemptReservation: async () => ({ items: ITEMS_PER_CHUNK, path: 'batch', reserveUsd: ITEMS_PER_CHUNK * COST_PER_ITEM * 2 }),
    reconcileChunks: async () => [],
    runRealtimeChunk: notUsed,
    sampleReservation: notUsed,
    runSample: notUsed,
    deliverWebhook: notUsed,
    reconcileOrphans: notUsed,
  };
}

/**
 * The workflows' own logic under Temporal's time-skipping test server: days of durable timers
 * pass in seconds, and the activities are typed fakes, so each exit path is exercised alone.
 */
describe('batch and chunk workflows, time skipping', () => {
  let env: TestWorkflowEnvironment;
  let workflowBundle: WorkflowBundleWithSourceMap;
  async function startServer(): Promise<void> {
    env = await startTimeSkippingEnvironment();
    // The test server has no ListSearchAttributes, but takes additions.
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((k) => [k.name, INDEXED_VALUE_TYPE[k.type]])),
    });
  }
  before(async () => {
    await startServer();
    workflowBundle = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
  });
  after(async () => env?.teardown(), { timeout: 30_000 });

  /**
   * A test on the time-skipping server. That server is a separate binary that has died mid-run on
   * a busy CI machine, and stops running a chunk on now and then after rejecting the task that
   * handles its cancel (about one run in four of the 48-hour test here; the real server takes the
   * same commands, and the e2e cancel and deadline tests run them there). Either way the test runs
   * again on a fresh server, up to twice, and says so; any other failure fails it at once.
   */
  function serverTest(name: string, fn: () => Promise<void>): void {
    test(name, async (t) => {
      for (let tries = 1; ; tries++) {
        try {
          return await fn();
        } catch (err) {
          if (!(err instanceof TestServerLost) || tries === 3) throw err;
          t.diagnostic(`${err.message}: ran the test again on a new test server`);
          // The lost server is left as it is: its workers cannot drain, and tearing it down under
          // them throws out of band (into whichever test runs next). The file's exit ends it.
          await startServer();
        }
      }
    });
  }

  let n = 0;
  async function run(store: FakeStore, input: Partial<ProcessBatchInput>, behaviour?: Behaviour) {
    const taskQueue = `tq-${++n}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: fakeActivities(store, behaviour),
    });
    const args: ProcessBatchInput = {
      batchId: `batch_ts${n}`,
      itemCount: store.chunkCount * ITEMS_PER_CHUNK,
      maxParallelChunks: 2,
      maxAttempts: 2,
      poll: { initialMs: 60_000, maxMs: HOUR, factor: 2 },
      limits: { maxCostUsd: null, deadlineMs: null, onBudgetExhausted: 'wait' },
      ...input,
    };
    return whileServerAnswers(
      env,
      worker.runUntil(env.client.workflow.execute(processBatchWorkflow, { taskQueue, workflowId: args.batchId, args: [args] })),
    );
  }

  // Skipped: on this test server the chunk's task that handles the deadline's cancel is rejected
  // (ACTIVITY_UNKNOWN, then 'invalid history builder state for action') and the chunk never runs
  // on: two runs in three on CI, retries included. The same path runs on the real server in
  // test/e2e/limits-and-control.test.ts ('a deadline that falls mid-chunk … ends timed_out').
  void test.skip('a 48-hour deadline on a provider batch that never finishes ends the batch timed_out', async () => {
    const store = new FakeStore(3);
    const deadlineMs = Date.now() + 48 * HOUR;
    const result = await run(
      store,
      { limits: { maxCostUsd: null, deadlineMs, onBudgetExhausted: 'wait' }, reconcileMs: 6 * HOUR },
      { poll: () => ({ state: 'in_progress', terminal: false }) },
    );
    assert.equal(result.status, 'timed_out');
    assert.equal(result.cancelled, 30, 'every item closed as cancelled');
    assert.equal(result.succeeded + result.failed + result.cancelled, 30);
  });

  serverTest('a batch that cannot be planned ends failed, every item closed with the reason', async () => {
    const store = new FakeStore(2);
    const result = await run(
      store,
      {},
      {
        plan: () => {
          throw ApplicationFailure.nonRetryable('item 7 is larger than a provider batch may be', 'InvalidBatch');
        },
      },
    );
    assert.equal(result.status, 'failed');
    assert.equal(result.error, 'item 7 is larger than a provider batch may be');
    assert.equal(result.failed, 20);
    assert.deepEqual(store.chunks.get(1)!.errors, ['item 7 is larger than a provider batch may be']);
    assert.equal((await env.client.workflow.getHandle(`batch_ts${n}`).describe()).typedSearchAttributes.get(DroverStatus), 'failed');
  });

  serverTest('a failure that ends the workflow states DroverStatus failed first', async () => {
    const store = new FakeStore(1);
    await assert.rejects(run(store, { maxParallelChunks: 0 }), /WorkflowFailedError|Workflow execution failed/);
    const described = await env.client.workflow.getHandle(`batch_ts${n}`).describe();
    assert.equal(described.status.name, 'FAILED');
    assert.equal(described.typedSearchAttributes.get(DroverStatus), 'failed');
  });

  serverTest('continue-as-new after every chunk keeps the tally: three runs, one total', async () => {
    const store = new FakeStore(3);
    const result = await run(store, { chunksPerRun: 1, maxParallelChunks: 1 });
    assert.equal(result.status, 'completed');
    assert.equal(result.succeeded, 30);
    // Started without a kind (as an older API did): its first run gave it one, and it carried over.
    const described = await env.client.workflow.getHandle(`batch_ts${n}`).describe();
    assert.equal(described.typedSearchAttributes.get(DroverKind), 'batch');
    assert.equal(described.typedSearchAttributes.get(DroverStatus), 'completed');
    assert.ok(Math.abs(result.costUsd - 30 * COST_PER_ITEM) < 1e-12);
  });

  serverTest('a provider that refuses the submit: the chunk closes its items failed with the reason, the batch ends failed', async () => {
    const store = new FakeStore(2);
    const result = await run(
      store,
      {},
      {
        submit: () => {
          throw ApplicationFailure.nonRetryable('OpenAI: 400 invalid model', 'ProviderInvalidRequest');
        },
      },
    );
    assert.equal(result.status, 'failed');
    assert.equal(result.failed, 20);
    assert.deepEqual(store.chunks.get(0)!.errors, ['OpenAI: 400 invalid model']);
  });

  serverTest('a poll the provider refuses (401) ends the chunk, not the batch: the other chunk still succeeds', async () => {
    const store = new FakeStore(2);
    const result = await run(
      store,
      {},
      {
        poll: ({ providerBatchId }) => {
          if (providerBatchId.startsWith('pb-0-'))
            throw ApplicationFailure.nonRetryable('OpenAI: 401 key revoked', 'ProviderAuthentication');
          return { state: 'completed', terminal: true };
        },
      },
    );
    assert.equal(result.status, 'completed_with_failures');
    assert.equal(result.succeeded, 10);
    assert.equal(result.failed, 10);
    assert.match(store.chunks.get(0)!.errors[0]!, /401 key revoked/);
  });

  serverTest(
    'a resend waits for its reservation: a limit that pays only for the first attempt ends the batch before a second is sent',
    async () => {
      const store = new FakeStore(1);
      const submits: number[] = [];
      const behaviour: Behaviour = { submit: (ref) => void submits.push(ref.attempt), answers: (ref) => (ref.attempt === 1 ? 5 : 10) };
      // The first attempt reserves 0.02 (its estimate); its resend asks for 0.02 more beside the 0.005 spent.
      const result = await run(
        store,
        { maxAttempts: 3, limits: { maxCostUsd: 0.02, deadlineMs: null, onBudgetExhausted: 'stop' } },
        behaviour,
      );
      assert.equal(result.status, 'budget_exhausted');
      assert.deepEqual(submits, [1], 'the second attempt was never sent');
      assert.deepEqual([result.succeeded, result.failed, result.cancelled], [5, 0, 5]);
      assert.ok(result.costUsd <= 0.02);

      const roomy = new FakeStore(1);
      submits.length = 0;
      const done = await run(
        roomy,
        { maxAttempts: 3, limits: { maxCostUsd: 0.05, deadlineMs: null, onBudgetExhausted: 'stop' } },
        behaviour,
      );
      assert.equal(done.status, 'completed');
      assert.deepEqual(submits, [1, 2], 'granted, the resend goes out');
      assert.equal(done.succeeded, 10);
    },
  );

  serverTest('a cancel that reaches a submit in flight waits for it to stop before the chunk ends', async () => {
    const store = new FakeStore(1);
    let submitSawCancel = false;
    const taskQueue = `tq-${++n}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: fakeActivities(store, {
        submit: async () => {
          const ctx = Context.current();
          // A long upload that heartbeats: the cancel arrives with a heartbeat answer.
          for (;;) {
            ctx.heartbeat();
            try {
              await ctx.sleep(1000);
            } catch (err) {
              if (err instanceof CancelledFailure) submitSawCancel = true;
              throw err;
            }
          }
        },
      }),
    });
    const batchId = `batch_ts${n}`;
    const args: ProcessBatchInput = {
      batchId,
      itemCount: ITEMS_PER_CHUNK,
      maxParallelChunks: 1,
      maxAttempts: 1,
      poll: { initialMs: 1000, maxMs: 1000, factor: 1 },
      limits: { maxCostUsd: null, deadlineMs: null, onBudgetExhausted: 'wait' },
    };
    const result = await whileServerAnswers(
      env,
      worker.runUntil(async () => {
        const handle = await env.client.workflow.start(processBatchWorkflow, { taskQueue, workflowId: batchId, args: [args] });
        // Let the submit start, then cancel the batch the way the API does.
        await env.sleep(5000);
        await handle.executeUpdate('cancel');
        return handle.result();
      }),
    );
    assert.equal(result.status, 'cancelled');
    assert.equal(result.cancelled, ITEMS_PER_CHUNK);
    assert.ok(submitSawCancel, 'the submit activity was cancelled, and the chunk waited for it');
  });
});

/**
 * The guard itself: a test server that dies under a running worker fails the wait in seconds
 * (unguarded, the worker's drain waits for it for ever and the whole run hangs).
 */
describe('time-skipping test server lost mid-test', () => {
  test('a killed test server ends the wait with TestServerLost', async () => {
    const env = await startTimeSkippingEnvironment();
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const store = new FakeStore(1);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'lost',
      workflowBundle,
      activities: fakeActivities(store, {
        submit: async () => {
          for (;;) {
            Context.current().heartbeat();
            await Context.current().sleep(500);
          }
        },
      }),
    });
    const args: ProcessBatchInput = {
      batchId: 'batch_lost',
      itemCount: ITEMS_PER_CHUNK,
      maxParallelChunks: 1,
      maxAttempts: 1,
      poll: { initialMs: 1000, maxMs: 1000, factor: 1 },
      limits: { maxCostUsd: null, deadlineMs: null, onBudgetExhausted: 'wait' },
    };
    const port = env.address.split(':').pop();
    const started = Date.now();
    const waiting = whileServerAnswers(
      env,
      worker.runUntil(async () => {
        const handle = await env.client.workflow.start(processBatchWorkflow, { taskQueue: 'lost', workflowId: args.batchId, args: [args] });
        await env.sleep(2000);
        const { stdout } = await promisify(execFile)('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)]);
        const server = stdout.split('\n').find((l) => l.includes('temporal-test-server') && l.trim().endsWith(` ${port}`));
        assert.ok(server, `the test server on port ${port} is a child of this process`);
        process.kill(Number(server.trim().split(/\s+/)[0]), 'SIGKILL');
        return handle.result();
      }),
    );
    await assert.rejects(waiting, TestServerLost);
    assert.ok(Date.now() - started < 60_000, 'lost within a minute, not at the test timeout');
  });
});
