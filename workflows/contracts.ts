/**
 * Inputs and outputs of Drover's workflows and activities. Only ids, ranges, counts, token usage
 * and dollars cross these boundaries (claim check): item texts and outputs stay in the store.
 */
import type { BatchStatus } from '../domain/responses.js';
import type { Usage } from '../domain/usage.js';

export type { BatchStatus, Usage };

/** How often a chunk asks the provider about its batch: exponential backoff between bounds. */
export interface PollPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export interface Tally {
  succeeded: number;
  failed: number;
  /** Items closed without an outcome because the batch stopped (cancel, deadline, budget). */
  cancelled: number;
  usage: Usage;
  costUsd: number;
  /**
   * The part of costUsd its items spent in the batch's sample, which the batch counted as the
   * sample's spend until this tally arrived (absent: none, or a tally from before it was kept).
   */
  sampleCostUsd?: number;
}

export type StopReason = 'cancelled' | 'timed_out' | 'budget_exhausted';

export interface Limits {
  maxCostUsd: number | null;
  /** Epoch milliseconds. */
  deadlineMs: number | null;
  /** What to do when the next chunk does not fit the budget: wait for a raise, or end the batch. */
  onBudgetExhausted: 'wait' | 'stop';
}

/** A change of limits through the setLimits update; `null` removes a limit. */
export interface LimitsPatch {
  maxCostUsd?: number | null;
  deadlineMs?: number | null;
}

/** A chunk started and not yet reported, with what it reserved and is expected to cost. */
export interface InFlightChunk {
  chunkIndex: number;
  /** What the attempt now running may still spend; 0 while the next attempt waits for its grant. */
  reserveUsd: number;
  expectedUsd: number;
  /** What its finished attempts spent, counted at once rather than when the chunk ends. */
  spentUsd?: number;
  /** The last attempt it reported, so a report is never counted twice. */
  reportedAttempt?: number;
  /** Set while its next attempt waits for the batch to reserve `wants.reserveUsd`. */
  wants?: { attempt: number; reserveUsd: number } | null;
}

/** Per-chunk estimates of consecutive chunks from `from`, read from the store a page at a time. */
export interface ChunkEstimatePage {
  from: number;
  expectedUsd: number[];
  reserveUsd: number[];
}

/**
 * What a batch run carries into its next run on continue-as-new: sums and the chunks in flight
 * (bounded by the window), never per-chunk arrays, so it stays small at any batch size.
 */
export interface LedgerState {
  /** -1 until the batch is planned. */
  chunkCount: number;
  nextChunk: number;
  inFlight: InFlightChunk[];
  totals: Tally;
  /** Expected cost of the whole plan, and of the chunks started so far: what the forecast uses. */
  plannedExpectedUsd: number;
  startedExpectedUsd: number;
  limits: Limits;
  paused: boolean;
  stopReason: StopReason | null;
  startedAtMs: number;
  /**
   * The sample's reservation while it runs, then its spend not yet in a chunk's tally (see
   * Tally.sampleCostUsd). Absent in batches without a sample and runs before SAMPLE_BUDGET_PATCH.
   */
  sample?: { reserveUsd: number; spentUsd: number };
}

export interface ProcessBatchInput {
  batchId: string;
  itemCount: number;
  maxParallelChunks: number;
  maxAttempts: number;
  poll: PollPolicy;
  limits: Limits;
  /** The batch has a webhook_url: events are delivered (the URL and secret stay in the store). */
  webhook?: boolean;
  /** The tenant has a monthly spend cap: every chunk attempt is also reserved against it. */
  tenantBudget?: boolean;
  /** Chunks started per run before continue-as-new; keeps each history far below 4,096 events. */
  chunksPerRun?: number;
  /**
   * How long the batch waits on its chunks before it asks Temporal whether they still run: a
   * chunk that was terminated or failed without reporting is then closed, so nothing hangs.
   */
  reconcileMs?: number;
  /**
   * The batch's `cache` is `use` or `refresh`: before planning, its items are keyed (and, for
   * `use`, answered from the tenant's result cache), so only the others are planned and sent.
   */
  resultCache?: boolean;
  state?: LedgerState;
  /** Sample first, then approve (patch 'sample-first'): run `size` items, then wait for a decision. */
  sample?: SamplePolicy;
}

export interface SamplePolicy {
  size: number;
  approve: 'manual' | 'auto';
  minSuccessRate: number;
  approvalWindowMs: number;
}

export interface SampleRunInput {
  batchId: string;
  size: number;
}

/** The sample's unanswered items and the most sending them realtime can cost. */
export interface SampleReservation {
  items: number;
  reserveUsd: number;
}

/** What the sample showed: counts and dollars only (its results stay in the store). */
export interface SampleOutcome {
  size: number;
  succeeded: number;
  failed: number;
  costUsd: number;
  /** The sample's cost plus the rest priced per item from the sample's real usage, at each chunk's path. */
  projectedTotalUsd: number;
}

/** A reject may say why; the batch's error then carries it. */
export interface RejectInput {
  reason?: string;
}

export interface ProcessBatchResult extends Tally {
  status: BatchStatus;
  chunkCount: number;
  error?: string;
}

export interface ChunkRunState {
  attempt: number;
  /** The path of the attempt in progress, once chosen. */
  path?: 'batch' | 'realtime' | null;
  providerBatchId: string | null;
  pollMs: number;
  totals: Tally;
  /** The highest attempt the batch has reserved budget for (the first is reserved at start). */
  grantedAttempt?: number;
}

export interface ProcessChunkInput {
  batchId: string;
  chunkIndex: number;
  parentWorkflowId: string;
  maxAttempts: number;
  poll: PollPolicy;
  state?: ChunkRunState;
}

export interface ChunkCompletion extends Tally {
  chunkIndex: number;
  /** Set when the chunk failed: why its unfinished items were closed as failed. */
  error?: string;
}

/** A chunk's final tally; `error` says why it failed, when it did. */
export interface ChunkResult extends Tally {
  error?: string;
}

export interface BatchProgress extends Tally {
  status: BatchStatus;
  itemCount: number;
  pending: number;
  cost: { spentUsd: number; reservedUsd: number; limitUsd: number | null; estimatedTotalUsd: number };
  deadlineMs: number | null;
  paused: boolean;
  chunks: { total: number; completed: number; running: number; waiting: number };
  startedAtMs: number;
  /** Epoch ms when the batch should finish at its pace so far; null until there is a pace, or while it waits. */
  etaMs: number | null;
  /** While awaiting budget: what the next chunk needs reserved and what the limit leaves free. */
  budget?: { neededUsd: number; freeUsd: number; scope?: 'tenant'; forSample?: boolean } | null;
}

// Activity contracts

export interface ChunkRef {
  batchId: string;
  chunkIndex: number;
  attempt: number;
}

/** What answering a batch's items from the result cache did: counts and dollars only. */
export interface CacheResolution {
  hits: number;
  savedUsd: number;
}

export interface PlanResult {
  chunkCount: number;
  /** Expected cost of every chunk together; per-chunk figures stay in the store. */
  expectedUsd: number;
}

/** A chunk the batch found closed without having reported, closed in the store in turn. */
export interface ReconciledChunk {
  chunkIndex: number;
  tally: Tally;
  error: string;
}

/** How a chunk ends: its unfinished items are closed with this status and reason. */
export interface CloseChunkInput {
  batchId: string;
  chunkIndex: number;
  status: 'failed' | 'cancelled';
  error: { code: string; message: string };
}

export interface SubmitChunkResult {
  /** null when nothing was submitted: every item is done, or the attempt goes realtime. */
  providerBatchId: string | null;
  itemCount: number;
  /** `realtime`: the workflow runs the attempt with runRealtimeChunk instead of polling. */
  path: 'batch' | 'realtime';
}

export interface RealtimeChunkInput extends ChunkRef {
  final: boolean;
}

export interface PollResult {
  state: string;
  terminal: boolean;
  counts: { total: number; completed: number; failed: number };
}

export interface CollectChunkInput extends ChunkRef {
  providerBatchId: string;
  /** The last allowed attempt: retryable failures become final failures. */
  final: boolean;
  /** The batch is stopping: what did not finish is closed as cancelled, not failed. */
  stopping?: boolean;
}

export interface AttemptTally extends Tally {
  /** Items that failed retryably and go into the next attempt. */
  pending: number;
}

export interface FinishBatchInput {
  batchId: string;
  /** The batch could not run at all (planning failed): it ends `failed` with `error`. */
  failed?: boolean;
  error?: string;
  /** Set when the batch stopped early: items without an outcome are closed with this reason. */
  stopReason?: StopReason;
}

/** The closing status and counts, read from the store after every item got an outcome. */
export interface FinishBatchResult extends Tally {
  status: BatchStatus;
}

/** What a chunk's next attempt can cost at most, which the batch must reserve before it starts. */
export interface AttemptReservation {
  items: number;
  path: 'batch' | 'realtime';
  reserveUsd: number;
}

/** A chunk finished an attempt and asks to start the next: what it spent, what the next needs. */
export interface ChunkAttemptReport {
  chunkIndex: number;
  /** The attempt that finished. */
  attempt: number;
  costUsd: number;
  /** The reservation the next attempt needs; 0 when no attempt follows. */
  nextReserveUsd: number;
}

/** A chunk attempt's worst case, reserved against its tenant's monthly spend cap. */
export interface TenantHoldInput {
  batchId: string;
  chunkIndex: number;
  attempt: number;
  reserveUsd: number;
}

/** Whether the tenant's monthly cap had room; `freeUsd` and `capUsd` are null without a cap. */
export interface TenantHold {
  granted: boolean;
  freeUsd: number | null;
  capUsd: number | null;
}
