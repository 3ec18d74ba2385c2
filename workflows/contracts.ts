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

/** Per-chunk cost estimates from planning: `expected` for forecasts, `reserve` for budgets. */
export interface ChunkEstimates {
  expectedUsd: number[];
  reserveUsd: number[];
}

/** What a batch run carries into its next run on continue-as-new. */
export interface BatchRunState {
  chunkCount: number;
  nextChunk: number;
  inFlight: number[];
  totals: Tally;
  estimates: ChunkEstimates;
  limits: Limits;
  paused: boolean;
  stopReason: StopReason | null;
  startedAtMs: number;
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
  /** Chunks started per run before continue-as-new; keeps each history far below 4,096 events. */
  chunksPerRun?: number;
  state?: BatchRunState;
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
  /** Epoch ms when the batch should finish at its pace so far; null until there is a pace. */
  etaMs: number | null;
}

// Activity contracts

export interface ChunkRef {
  batchId: string;
  chunkIndex: number;
  attempt: number;
}

export interface PlanResult extends ChunkEstimates {
  chunkCount: number;
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

export interface FinishBatchInput extends Tally {
  batchId: string;
  status: BatchStatus;
  error?: string;
  /** Set when the batch stopped early: items without an outcome are closed with this reason. */
  stopReason?: StopReason;
}
