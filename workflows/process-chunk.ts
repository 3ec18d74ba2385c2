import {
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { AttemptTally, ChunkResult, ChunkRunState, CloseChunkInput, PollPolicy, ProcessChunkInput, Tally } from './contracts.js';
import { attemptGrantedSignal, chunkAttemptSignal, chunkCompletedSignal } from './definitions.js';
import { quick, realtimeProxy, transfer } from './proxies.js';
import { addTally, ZERO_TALLY } from './tally.js';
import { ATTEMPT_BUDGET_PATCH, EXACT_MONEY_PATCH } from './attempt-budget.js';
import { renderChunkDetails, type ChunkPhase } from './current-details.js';

/** A failed attempt's provider batch is cancelled and what it answered kept, not only cancelled. */
const SALVAGE_FAILED_ATTEMPT_PATCH = 'salvage-failed-attempt';

/**
 * Runs one chunk through the provider's native batch API (or realtime calls):
 * submit → poll on durable timers with backoff → collect, then resubmits only the items that
 * failed retryably, up to `maxAttempts`. Reports its tally to the batch by signal.
 *
 * Every way out reports to the batch, so a batch never waits on a chunk for ever:
 * - cancelled (by its batch, on cancel, deadline or budget): cancels the provider batch, waits
 *   for it to end and collects the partial results; the batch closes what did not finish;
 * - failed (a provider that refuses the request, retries run out, a batch that cannot be read):
 *   cancels whatever provider batch the attempt made and closes its unfinished items as failed,
 *   with the reason.
 * The tally it reports is read back from the store, so it is what the results say.
 *
 * Budget: the batch reserved the first attempt before starting the chunk. Before each further
 * attempt the chunk reports what the last one spent and what the next can cost at most, and waits
 * for the batch's grant: no attempt spends what was not reserved.
 *
 * Idempotency: every provider batch is keyed by (batch, chunk, attempt), so a retried submit
 * finds the batch it created; collect writes at most one row per item.
 * Continue-as-new: while polling, when Temporal suggests it (a day of polls), carrying
 * `state`, which includes the provider batch id so nothing is submitted twice.
 *
 * Its current details (what the Temporal UI shows) name the provider batch, the attempt, the path
 * and what it is doing; setting them is no command.
 */
export async function processChunkWorkflow(input: ProcessChunkInput): Promise<ChunkResult> {
  const { batchId, chunkIndex } = input;
  const s: ChunkRunState = input.state ?? { attempt: 1, providerBatchId: null, pollMs: input.poll.initialMs, totals: ZERO_TALLY };
  setHandler(attemptGrantedSignal, ({ attempt }) => {
    s.grantedAttempt = Math.max(s.grantedAttempt ?? 1, attempt);
  });
  // The attempt last at work: once the chunk ends, s.attempt already names one that never runs.
  let worked = s.attempt;
  const show: Show = (phase) => {
    const ending = phase.name === 'reporting' || phase.name === 'done';
    if (!ending) worked = s.attempt;
    setCurrentDetails(
      renderChunkDetails(
        {
          batchId,
          chunkIndex,
          attempt: ending ? worked : s.attempt,
          maxAttempts: input.maxAttempts,
          path: s.path ?? null,
          providerBatchId: s.providerBatchId,
          phase,
          succeeded: s.totals.succeeded,
          failed: s.totals.failed,
        },
        Date.now(),
      ),
    );
  };

  let closing: CloseChunkInput | null = null;
  try {
    await runAttempts(input, s, show);
  } catch (err) {
    if (isCancellation(err) || cancelledMeanwhile()) {
      show({ name: 'stopping' });
      await CancellationScope.nonCancellable(() => stopAttempt(input, s, show));
    } else {
      const message = failureMessage(err);
      log.warn('chunk failed; closing its unfinished items', { chunkIndex, attempt: s.attempt, error: message });
      show({ name: 'closing', error: message });
      await CancellationScope.nonCancellable(() => abandonAttempt(input, s));
      closing = { batchId, chunkIndex, status: 'failed', error: { code: 'chunk_failed', message } };
    }
  }
  show({ name: 'reporting' });

  const result: ChunkResult = await CancellationScope.nonCancellable(async () => {
    try {
      const tally = closing ? await quick.closeChunk(closing) : await quick.tallyChunkRange({ batchId, chunkIndex });
      return closing ? { ...tally, error: closing.error.message } : tally;
    } catch (err) {
      // The store is out of reach: report what this workflow counted; the batch's closing
      // step closes and counts every item from the store once it is back.
      log.error('could not read the chunk back from the store', { chunkIndex, error: failureMessage(err) });
      return closing ? { ...s.totals, error: closing.error.message } : s.totals;
    }
  });

  await CancellationScope.nonCancellable(async () => {
    try {
      await getExternalWorkflowHandle(input.parentWorkflowId).signal(chunkCompletedSignal, { chunkIndex, ...result });
    } catch (err) {
      // The batch was terminated or reset; the chunk's outcome is in the store either way.
      log.warn('could not report to batch workflow', { error: String(err) });
    }
  });
  show({ name: 'done', succeeded: result.succeeded, failed: result.failed, cancelled: result.cancelled, error: result.error });
  return result;
}

/** Sets the chunk's current details to a phase of its attempt. */
type Show = (phase: ChunkPhase) => void;

async function runAttempts(input: ProcessChunkInput, s: ChunkRunState, show: Show): Promise<void> {
  const { batchId, chunkIndex, maxAttempts, poll } = input;
  while (s.attempt <= maxAttempts) {
    const ref = { batchId, chunkIndex, attempt: s.attempt };
    const final = s.attempt >= maxAttempts;
    if (!s.providerBatchId) {
      show({ name: 'submitting' });
      const submitted = await transfer.submitChunk.executeWithOptions({ summary: `submit chunk ${chunkIndex}, attempt ${s.attempt}` }, [
        ref,
      ]);
      if (submitted.path === 'realtime') {
        s.path = 'realtime';
        show({ name: 'calling', items: submitted.itemCount });
        const tally = await realtimeProxy().runRealtimeChunk.executeWithOptions(
          { summary: `realtime: ${submitted.itemCount} items of chunk ${chunkIndex}, attempt ${s.attempt}` },
          [{ ...ref, final }],
        );
        if (!nextAttempt(s, tally)) return;
        if (!(await reserveNextAttempt(input, s, tally, show))) return;
        continue;
      }
      if (!submitted.providerBatchId) return;
      s.path = 'batch';
      s.providerBatchId = submitted.providerBatchId;
      s.pollMs = poll.initialMs;
    }
    const providerBatchId = s.providerBatchId;
    await waitUntilTerminal(batchId, providerBatchId, s, poll, show, () => {
      if (workflowInfo().continueAsNewSuggested) return continueAsNew<typeof processChunkWorkflow>({ ...input, state: s });
    });
    show({ name: 'collecting' });
    const tally = await transfer.collectChunk.executeWithOptions({ summary: `collect ${providerBatchId}, attempt ${s.attempt}` }, [
      { ...ref, providerBatchId, final },
    ]);
    if (!nextAttempt(s, tally)) return;
    if (!(await reserveNextAttempt(input, s, tally, show))) return;
    log.info('resubmitting failed items', { chunkIndex, pending: tally.pending, nextAttempt: s.attempt });
  }
}

/**
 * Reports the finished attempt's spend to the batch and waits until it reserves the next
 * attempt's worst case. False when the batch cannot be told (it was terminated): nothing more
 * may be spent then.
 */
async function reserveNextAttempt(input: ProcessChunkInput, s: ChunkRunState, tally: AttemptTally, show: Show): Promise<boolean> {
  if (s.attempt > input.maxAttempts || !patched(ATTEMPT_BUDGET_PATCH)) return true;
  const { batchId, chunkIndex } = input;
  const { reserveUsd } = await quick.attemptReservation({ batchId, chunkIndex, attempt: s.attempt });
  try {
    await getExternalWorkflowHandle(input.parentWorkflowId).signal(chunkAttemptSignal, {
      chunkIndex,
      attempt: s.attempt - 1,
      costUsd: tally.costUsd,
      nextReserveUsd: reserveUsd,
    });
  } catch (err) {
    log.warn('could not ask the batch for the next attempt; stopping here', { chunkIndex, error: failureMessage(err) });
    return false;
  }
  show({ name: 'awaiting_grant' });
  await condition(() => (s.grantedAttempt ?? 1) >= s.attempt);
  return true;
}

/**
 * A cancel can reach an activity whose worker then dies: Temporal does not retry an activity whose
 * cancel was requested, so it ends timed out rather than cancelled. The chunk was cancelled all
 * the same and stops like one, cancelling its provider batch and collecting what it answered.
 * Failing instead left a provider batch the dead submit had created running, or answered and never
 * collected, with its items closed as failed.
 */
function cancelledMeanwhile(): boolean {
  return CancellationScope.current().consideredCancelled && patched('chunk-cancelled-while-an-activity-died');
}

/** Counts an attempt and moves on; false when nothing is left to resend. */
function nextAttempt(s: ChunkRunState, tally: Tally & { pending: number }): boolean {
  s.totals = addTally(s.totals, tally, patched(EXACT_MONEY_PATCH));
  s.providerBatchId = null;
  s.path = null;
  s.attempt++;
  return tally.pending > 0;
}

/**
 * The batch is stopping: the provider batch of the interrupted attempt is cancelled (looked up by
 * key, so a submit interrupted before it returned the id is covered) and its partial results
 * collected. A realtime attempt wrote each answer as it went; there is nothing to collect.
 */
async function stopAttempt(input: ProcessChunkInput, s: ChunkRunState, show: Show): Promise<void> {
  if (s.path === 'realtime') return;
  const ref = { batchId: input.batchId, chunkIndex: input.chunkIndex, attempt: s.attempt };
  try {
    const { providerBatchId } = await quick.cancelChunk(ref);
    if (!providerBatchId) return;
    s.pollMs = input.poll.initialMs;
    s.providerBatchId = providerBatchId;
    // Its polls say it is stopping, with the provider batch's state.
    await waitUntilTerminal(input.batchId, providerBatchId, s, input.poll, (p) =>
      show(p.name === 'polling' ? { name: 'stopping', providerState: p.providerState } : p),
    );
    await transfer.collectChunk.executeWithOptions({ summary: `collect partial results of cancelled ${providerBatchId}` }, [
      { ...ref, providerBatchId, final: true, stopping: true },
    ]);
  } catch (err) {
    // The provider batch cannot be read (gone, or the provider refuses): its items stay
    // unfinished and the batch closes them with its stop reason.
    log.warn('could not collect the cancelled attempt', { chunkIndex: input.chunkIndex, error: failureMessage(err) });
  }
}

/** A failed attempt may still have a provider batch running: cancel it so it stops billing. */
async function abandonAttempt(input: ProcessChunkInput, s: ChunkRunState): Promise<void> {
  if (s.path === 'realtime') return;
  const ref = { batchId: input.batchId, chunkIndex: input.chunkIndex, attempt: s.attempt };
  try {
    // What the cancelled batch already answered is billed: keep it (patch 'salvage-failed-attempt').
    if (patched(SALVAGE_FAILED_ATTEMPT_PATCH)) await quick.salvageAttempt(ref);
    else await quick.cancelChunk(ref);
  } catch (err) {
    log.warn('could not cancel the failed attempt at the provider', { chunkIndex: input.chunkIndex, error: failureMessage(err) });
  }
}

/** Polls with backoff on durable timers until the provider batch is terminal. */
async function waitUntilTerminal(
  batchId: string,
  providerBatchId: string,
  s: ChunkRunState,
  poll: PollPolicy,
  show: Show,
  beforeSleep?: () => unknown,
): Promise<void> {
  for (;;) {
    const status = await quick.pollProviderBatch.executeWithOptions(
      { summary: `poll provider batch ${providerBatchId}, attempt ${s.attempt}` },
      [{ batchId, providerBatchId }],
    );
    if (status.terminal) return;
    show({ name: 'polling', providerState: status.state });
    await beforeSleep?.();
    await sleep(s.pollMs, { summary: `wait for ${providerBatchId} (${status.state})` });
    s.pollMs = Math.min(Math.round(s.pollMs * poll.factor), poll.maxMs);
  }
}

/** The innermost message of an activity or child failure: what a user can act on. */
export function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && (e as { cause?: unknown }).cause instanceof Error) e = (e as { cause?: unknown }).cause;
  return e instanceof Error ? e.message : String(err);
}
