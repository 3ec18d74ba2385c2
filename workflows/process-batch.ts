import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { WebhookEvent } from '../domain/webhook-events.js';
import { FailureType } from '../domain/failure-types.js';
import { usdText } from '../domain/money.js';
import {
  ATTEMPT_BUDGET_PATCH,
  DROVER_KIND_PATCH,
  EXACT_MONEY_PATCH,
  EXACT_STATUS_PATCH,
  RESULT_CACHE_PATCH,
  SAMPLE_BUDGET_PATCH,
  SAMPLE_FIRST_PATCH,
  TENANT_BUDGET_PATCH,
} from './attempt-budget.js';
import { BatchLedger } from './batch-ledger.js';
import { chunkWorkflowId } from './chunk-id.js';
import type {
  BatchStatus,
  LimitsPatch,
  ProcessBatchInput,
  ProcessBatchResult,
  RejectInput,
  SampleOutcome,
  SamplePolicy,
  StopReason,
} from './contracts.js';
import { renderBatchDetails } from './current-details.js';
import {
  approveUpdate,
  attemptGrantedSignal,
  cancelUpdate,
  chunkAttemptSignal,
  chunkCompletedSignal,
  pauseUpdate,
  progressQuery,
  rejectUpdate,
  resumeUpdate,
  setLimitsUpdate,
} from './definitions.js';
import { deliverWebhookWorkflow } from './deliver-webhook.js';
import { processChunkWorkflow, failureMessage } from './process-chunk.js';
import { quick, realtimeProxy, transfer } from './proxies.js';
import { DroverCostUsd, DroverKind, DroverStatus, type DroverKindValue } from './search-attributes.js';

export const DEFAULT_CHUNKS_PER_RUN = 250;
/** A chunk silent this long is looked up in Temporal: terminated or failed ones are closed. */
export const DEFAULT_RECONCILE_MS = 60_000;
/** While stopping, chunks are looked up sooner: a cancel should end within a minute. */
const STOPPING_RECONCILE_MS = 10_000;
/** Per-chunk estimates are read from the store this many at a time. */
const ESTIMATE_PAGE = 200;

/**
 * Runs one batch: plans its chunks (stored, not carried), then runs chunk workflows in a
 * sliding window of `maxParallelChunks`, aggregating the tallies they signal back. The
 * bookkeeping (budget, reservations, window, progress) is `BatchLedger`; this function wires it
 * to Temporal's handlers, timers and children.
 *
 * Budget, a hard cap: every attempt is reserved before it may spend. A chunk starts only if
 * spent + reserved + its first attempt's worst case (its prompts and the output cap every request
 * carries) fits under `maxCostUsd`; each further attempt (repairs, resends) reports what the last
 * one spent and waits here until its own worst case fits, ahead of any new chunk. Otherwise the
 * batch waits in `awaiting_budget` for a raise (or ends, with `onBudgetExhausted: 'stop'`). Deadline, cancel (update or a Temporal cancel
 * from the UI) and a spend that still crosses the limit all stop the batch the same way: its
 * running chunks are cancelled, they collect partial results, and unfinished items are closed.
 *
 * Nothing hangs: a chunk reports on every way out, and a chunk that cannot (terminated from the
 * UI, failed in a way its own code did not catch) is found by reconciling: after
 * `reconcileMs` without news the batch asks Temporal which of its chunks still run.
 *
 * Continue-as-new: after `chunksPerRun` chunk starts (or when Temporal suggests it) the run
 * continues as new with the ledger's sums. Children are started with ABANDON so they outlive the
 * run that started them, and they signal the batch by workflow id, so the current run gets the
 * result. Webhooks are delivered by abandoned children too, so a slow receiver delays nothing.
 *
 * The Temporal UI: `DroverStatus` follows the batch's status to its exact ending, and the
 * workflow's current details (`renderBatchDetails`) show its progress, cost, ETA and state,
 * set again on every change (no command: it is in-memory state served by a built-in query).
 */
export async function processBatchWorkflow(input: ProcessBatchInput): Promise<ProcessBatchResult> {
  try {
    return await runBatch(input);
  } catch (err) {
    // A failure that ends the workflow (an activity that ran out of retries) ends the batch too:
    // the list must not go on saying it runs.
    if (!(err instanceof ContinueAsNew) && !isCancellation(err) && patched(EXACT_STATUS_PATCH)) {
      upsertSearchAttributes([{ key: DroverStatus, value: 'failed' }]);
      setCurrentDetails(`**failed**: ${failureMessage(err)}`);
    }
    throw err;
  }
}

/** Children Drover starts say what they are, so the UI's list can tell them from batches. */
const kind = (value: DroverKindValue) => (patched(DROVER_KIND_PATCH) ? { typedSearchAttributes: [{ key: DroverKind, value }] } : {});

async function runBatch(input: ProcessBatchInput): Promise<ProcessBatchResult> {
  const { batchId, itemCount, maxParallelChunks, maxAttempts, poll } = input;
  const chunksPerRun = input.chunksPerRun ?? DEFAULT_CHUNKS_PER_RUN;
  const reconcileMs = input.reconcileMs ?? DEFAULT_RECONCILE_MS;
  if (maxParallelChunks < 1 || maxAttempts < 1 || chunksPerRun < 1) {
    throw ApplicationFailure.nonRetryable('maxParallelChunks, maxAttempts and chunksPerRun must be at least 1', FailureType.InvalidBatch);
  }
  const exactMoney = patched(EXACT_MONEY_PATCH);
  const ledger = input.state
    ? new BatchLedger(itemCount, input.state, exactMoney)
    : BatchLedger.fresh(itemCount, input.limits, Date.now(), exactMoney);
  let status: BatchStatus = ledger.stopReason ? 'cancelling' : !ledger.planned ? 'queued' : ledger.paused ? 'paused' : 'running';
  // Each run states its status once, so the search attribute never lags what this run believes.
  upsertSearchAttributes([{ key: DroverStatus, value: status }]);
  // A batch an older API started has no kind: its next run gives it one, so `DroverKind = "batch"` finds it.
  if (workflowInfo().typedSearchAttributes.get(DroverKind) === undefined && patched(DROVER_KIND_PATCH))
    upsertSearchAttributes([{ key: DroverKind, value: 'batch' }]);
  let limitsVersion = 0;

  const webhookStarts: Array<Promise<unknown>> = [];
  const notify = (event: WebhookEvent) => {
    if (!input.webhook) return;
    const eventId = `evt_${uuid4().replaceAll('-', '')}`;
    const started = CancellationScope.nonCancellable(() =>
      startChild(deliverWebhookWorkflow, {
        workflowId: `${batchId}/${eventId}`,
        args: [{ batchId, event, eventId }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `webhook ${event}`,
        ...kind('webhook'),
      }),
    ).catch((err: unknown) => log.warn('webhook delivery not started', { event, error: String(err) }));
    webhookStarts.push(started);
  };
  const progress = () => ledger.progress(status, Date.now());
  /** Sets the current details the UI shows; cheap, so it follows every change. */
  const show = () => setCurrentDetails(renderBatchDetails(batchId, progress(), Date.now(), ledger.stopReason));
  const setStatus = (next: BatchStatus) => {
    if (next === status) return;
    status = next;
    upsertSearchAttributes([{ key: DroverStatus, value: next }]);
    if (next === 'awaiting_budget') notify('batch.awaiting_budget');
    show();
  };
  const stop = (reason: StopReason) => {
    if (ledger.stop(reason)) setStatus('cancelling');
  };
  show();

  setHandler(chunkCompletedSignal, ({ chunkIndex, error, ...tally }) => {
    if (!ledger.complete(chunkIndex, tally)) return;
    if (error) log.warn('chunk failed', { chunkIndex, error });
    upsertSearchAttributes([{ key: DroverCostUsd, value: ledger.spent() }]);
    show();
  });
  setHandler(chunkAttemptSignal, (report) => {
    if (!ledger.attemptDone(report)) return;
    upsertSearchAttributes([{ key: DroverCostUsd, value: ledger.spent() }]);
    show();
  });
  setHandler(cancelUpdate, () => {
    stop('cancelled');
    show();
    return progress();
  });
  setHandler(pauseUpdate, () => {
    ledger.pause();
    if (!ledger.stopReason && ledger.planned) setStatus('paused');
    show();
    return progress();
  });
  setHandler(resumeUpdate, () => {
    ledger.resume();
    if (status === 'paused') setStatus('running');
    show();
    return progress();
  });
  setHandler(
    setLimitsUpdate,
    (patch: LimitsPatch) => {
      ledger.setLimits(patch);
      limitsVersion++;
      show();
      return progress();
    },
    { validator: (patch: LimitsPatch) => ledger.validateLimits(patch, Date.now()) },
  );
  setHandler(progressQuery, progress);

  // Sample first: a decision arrives by update only while the batch awaits one.
  let awaitingApproval = false;
  let decision: { approved: boolean; reason: string } | null = null;
  const whileAwaiting = () => {
    if (!awaitingApproval || decision || ledger.stopReason) throw new Error(`batch ${batchId} is not awaiting approval (${status})`);
  };
  setHandler(
    approveUpdate,
    () => {
      decision = { approved: true, reason: 'approved' };
      return progress();
    },
    { validator: whileAwaiting },
  );
  setHandler(
    rejectUpdate,
    ({ reason }) => {
      decision = { approved: false, reason: `rejected after the sample${reason ? `: ${reason}` : ''}` };
      return progress();
    },
    { validator: (_: RejectInput) => whileAwaiting() },
  );

  /** Closes chunks that ended without reporting; they come back with their tally from the store. */
  const reconcile = async () => {
    const running = ledger.runningChunks();
    if (running.length === 0) return;
    const closed = await quick.reconcileChunks({ batchId, chunkIndexes: running });
    for (const c of closed) {
      if (ledger.complete(c.chunkIndex, c.tally))
        log.warn('chunk ended without reporting; closed', { chunkIndex: c.chunkIndex, error: c.error });
    }
  };
  /** Waits for `ready`, a limits change or a stop; reconciles when its chunks stay silent. */
  const waitFor = async (ready: () => boolean) => {
    const version = limitsVersion;
    const wake = () => ready() || limitsVersion !== version || ledger.stopReason !== null;
    let timeout = reconcileMs;
    if (ledger.limits.deadlineMs !== null) timeout = Math.min(timeout, ledger.limits.deadlineMs - Date.now());
    if (timeout <= 0) return;
    if (!(await condition(wake, timeout)) && !ledger.deadlinePassed(Date.now())) await reconcile();
  };

  /**
   * Nothing fits the budget. With `onBudgetExhausted: 'stop'` and nothing running that could free
   * some, the batch stops (false); otherwise it waits in `awaiting_budget` for news or a raise.
   */
  const awaitBudget = async (): Promise<boolean> => {
    if (ledger.busyCount === 0 && ledger.limits.onBudgetExhausted === 'stop') {
      stop('budget_exhausted');
      return false;
    }
    setStatus('awaiting_budget');
    const changes = ledger.changes;
    await waitFor(() => ledger.changes !== changes);
    return true;
  };

  /**
   * With a tenant monthly cap, an attempt is also reserved against it, beside the tenant's other
   * batches; false when the cap has no room (the ledger then says what was needed).
   */
  const holdForTenant = async (chunkIndex: number, attempt: number, reserveUsd: number): Promise<boolean> => {
    if (!input.tenantBudget || !patched(TENANT_BUDGET_PATCH)) return true;
    const hold = await quick.holdTenantBudget({ batchId, chunkIndex, attempt, reserveUsd });
    ledger.tenantShortfall = hold.granted ? null : { neededUsd: reserveUsd, freeUsd: hold.freeUsd ?? 0 };
    show();
    return hold.granted;
  };

  if (!ledger.planned) {
    try {
      // Hits are written to the store at no cost and need no reservation: only the misses are planned.
      if (input.resultCache && patched(RESULT_CACHE_PATCH)) {
        const cached = await transfer.resolveCachedResults({ batchId });
        if (cached.hits > 0) log.info('items answered from the result cache', { hits: cached.hits, savedUsd: cached.savedUsd });
      }
      const plan = await transfer.planBatch({ batchId });
      ledger.setPlan(plan.chunkCount, plan.expectedUsd);
    } catch (err) {
      // A Temporal cancel while planning ends the batch like any cancel: closed in the store, `cancelled`.
      if (isCancellation(err) && patched(EXACT_STATUS_PATCH)) stop('cancelled');
      else if (isCancellation(err)) throw err;
      else {
        const error = failureMessage(err);
        setStatus('failed');
        const finish = () => quick.finishBatch({ batchId, failed: true, error });
        const { status: _, ...totals } = await (patched(EXACT_STATUS_PATCH) ? CancellationScope.nonCancellable(finish) : finish());
        notify('batch.failed');
        await Promise.all(webhookStarts);
        return { status: 'failed', chunkCount: 0, ...totals, error };
      }
    }
    // A batch cancelled (or paused) while it planned stays so; it does not read `running` meanwhile.
    if (!patched(EXACT_STATUS_PATCH)) setStatus('running');
    else if (!ledger.stopReason) setStatus(ledger.paused ? 'paused' : 'running');
  }

  /**
   * Runs the sample and waits for the decision (or makes it, with `approve: "auto"`). A rejection
   * sets `rejection` (the batch ends failed, its other items unsent); a lapsed window, a cancel and
   * a Temporal cancel stop it like any cancel. Once approved the chunks run as ever.
   */
  const sampleFirst = async (policy: SamplePolicy): Promise<void> => {
    const budgeted = patched(SAMPLE_BUDGET_PATCH);
    let outcome: SampleOutcome;
    try {
      if (budgeted && !(await reserveForSample(policy))) return;
      outcome = await realtimeProxy().runSample.executeWithOptions({ summary: `sample of ${policy.size} items` }, [
        { batchId, size: policy.size },
      ]);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      stop('cancelled');
      return;
    }
    if (budgeted) {
      ledger.sampleDone(outcome.costUsd);
      upsertSearchAttributes([{ key: DroverCostUsd, value: ledger.spent() }]);
    }
    if (ledger.stopReason) return;
    if (policy.approve === 'auto') {
      rejection = autoDecision(policy, outcome, ledger.limits.maxCostUsd);
      return;
    }
    awaitingApproval = true;
    setStatus('awaiting_approval');
    let decided: boolean;
    try {
      decided = await condition(() => decision !== null || ledger.stopReason !== null, policy.approvalWindowMs);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      decided = true;
      stop('cancelled');
    }
    awaitingApproval = false;
    if (!decided) {
      // No user's cancel: the batch's error says what ended it.
      stopNote = `approval window lapsed (${policy.approvalWindowMs / 1000} s) without approve or reject`;
      stop('cancelled');
      return;
    }
    if (ledger.stopReason) return;
    if (!decision!.approved) rejection = decision!.reason;
    else setStatus(ledger.paused ? 'paused' : 'running');
  };

  /**
   * Reserves the sample's worst case against max_cost_usd; while it does not fit the batch waits
   * for a raise in awaiting_budget, or with `onBudgetExhausted: 'stop'` ends budget_exhausted
   * before any item is sent. False when the batch stopped instead.
   */
  const reserveForSample = async (policy: SamplePolicy): Promise<boolean> => {
    const { reserveUsd } = await quick.sampleReservation({ batchId, size: policy.size });
    for (;;) {
      if (ledger.stopReason) return false;
      if (ledger.deadlinePassed(Date.now())) {
        stop('timed_out');
        return false;
      }
      if (ledger.reserveSample(reserveUsd)) break;
      if (ledger.limits.onBudgetExhausted === 'stop') {
        stopNote = `the sample's worst case $${usdText(reserveUsd)} does not fit max_cost_usd $${usdText(ledger.limits.maxCostUsd ?? 0)}`;
        stop('budget_exhausted');
        return false;
      }
      setStatus('awaiting_budget');
      await waitFor(() => false);
    }
    setStatus(ledger.paused ? 'paused' : 'running');
    show();
    return true;
  };

  let rejection: string | null = null;
  let stopNote: string | null = null;
  if (input.sample && !input.state && !ledger.stopReason && patched(SAMPLE_FIRST_PATCH)) await sampleFirst(input.sample);

  let startedThisRun = 0;
  try {
    while (!rejection && !ledger.allDone() && !ledger.stopReason) {
      show();
      if (ledger.deadlinePassed(Date.now())) {
        stop('timed_out');
        break;
      }
      if (ledger.overspent()) {
        log.warn('spend crossed the cost limit; stopping', { spent: ledger.spent(), limit: ledger.limits.maxCostUsd });
        stop('budget_exhausted');
        break;
      }
      if (startedThisRun >= chunksPerRun || workflowInfo().continueAsNewSuggested) {
        await Promise.all(webhookStarts);
        await condition(allHandlersFinished);
        await continueAsNew<typeof processBatchWorkflow>({ ...input, state: ledger.snapshot() });
      }
      if (ledger.waitingCount > 0 && patched(ATTEMPT_BUDGET_PATCH)) {
        const next = ledger.nextGrant();
        if (next) {
          if (!(await holdForTenant(next.chunkIndex, next.attempt, next.reserveUsd))) {
            if (!(await awaitBudget())) break;
            continue;
          }
          // The chunk may have ended while the tenant's cap was asked: then there is nobody to tell.
          if (!ledger.grant(next.chunkIndex, next.attempt)) continue;
          if (!ledger.paused) setStatus('running');
          const { chunkIndex, attempt } = next;
          await getExternalWorkflowHandle(chunkWorkflowId(batchId, chunkIndex))
            .signal(attemptGrantedSignal, { attempt })
            .catch((err: unknown) => log.warn('could not grant a chunk its next attempt', { chunkIndex, attempt, error: String(err) }));
          continue;
        }
        // Nothing running will free budget: only a raise can let a retry start.
        if (ledger.busyCount === 0) {
          if (!(await awaitBudget())) break;
          continue;
        }
      }
      if (!ledger.windowOpen(maxParallelChunks)) {
        const changes = ledger.changes;
        await waitFor(() => ledger.changes !== changes || ledger.allDone());
        continue;
      }
      if (ledger.paused) {
        setStatus('paused');
        await waitFor(() => !ledger.paused);
        continue;
      }
      if (ledger.needsEstimates()) {
        ledger.addEstimates(await quick.chunkEstimates({ batchId, from: ledger.nextChunk, count: ESTIMATE_PAGE }));
        continue;
      }
      if (!ledger.fitsBudget()) {
        if (!(await awaitBudget())) break;
        continue;
      }
      const upcoming = ledger.peekNext();
      if (upcoming && !(await holdForTenant(upcoming.chunkIndex, 1, upcoming.reserveUsd))) {
        if (!(await awaitBudget())) break;
        continue;
      }
      setStatus('running');
      const chunkIndex = ledger.startNext();
      startedThisRun++;
      await startChild(processChunkWorkflow, {
        workflowId: chunkWorkflowId(batchId, chunkIndex),
        args: [{ batchId, chunkIndex, parentWorkflowId: workflowInfo().workflowId, maxAttempts, poll }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `chunk ${chunkIndex + 1} of ${ledger.chunkCount}`,
        ...kind('chunk'),
      });
    }
  } catch (err) {
    // A Temporal cancel (the UI's Cancel button) is a graceful cancel like the API's.
    if (!isCancellation(err)) throw err;
    stop('cancelled');
  }

  const stopReason = ledger.stopReason;
  show();
  if (stopReason) {
    await CancellationScope.nonCancellable(async () => {
      // Children outlive runs (ABANDON), so they are cancelled by id, not through a scope.
      for (const chunkIndex of ledger.runningChunks()) {
        await getExternalWorkflowHandle(chunkWorkflowId(batchId, chunkIndex))
          .cancel()
          .catch((err: unknown) => log.warn('could not cancel chunk', { chunkIndex, error: String(err) }));
      }
      while (ledger.runningCount > 0) {
        if (!(await condition(() => ledger.runningCount === 0, STOPPING_RECONCILE_MS))) await reconcile();
      }
    });
  }

  // The store closes every item still without an outcome and counts them all: the closing
  // counts are the store's, so the workflow, the API and the results always agree.
  const { status: closedStatus, ...totals } = await CancellationScope.nonCancellable(() =>
    quick.finishBatch({
      batchId,
      ...(stopReason ? { stopReason } : {}),
      ...(rejection ? { failed: true, error: rejection } : {}),
      ...(stopNote ? { error: stopNote } : {}),
    }),
  );
  ledger.close(totals);
  setStatus(closedStatus);
  show();
  notify(`batch.${closedStatus === 'completed_with_failures' ? 'completed' : closedStatus}` as WebhookEvent);
  await CancellationScope.nonCancellable(() => Promise.all(webhookStarts));
  log.info('batch finished', {
    batchId,
    status: closedStatus,
    succeeded: totals.succeeded,
    failed: totals.failed,
    costUsd: totals.costUsd,
  });
  return { status: closedStatus, chunkCount: ledger.chunkCount, ...totals };
}

/** `approve: "auto"`: the reason to reject the batch after its sample, or null to run the rest. */
export function autoDecision(policy: SamplePolicy, outcome: SampleOutcome, maxCostUsd: number | null): string | null {
  const rate = outcome.size === 0 ? 0 : outcome.succeeded / outcome.size;
  if (rate < policy.minSuccessRate)
    return `rejected after the sample: ${outcome.succeeded} of ${outcome.size} succeeded (${(rate * 100).toFixed(1)}%), below min_success_rate ${policy.minSuccessRate}`;
  if (maxCostUsd !== null && outcome.projectedTotalUsd > maxCostUsd)
    return `rejected after the sample: projected total $${outcome.projectedTotalUsd} exceeds max_cost_usd $${maxCostUsd}`;
  return null;
}
