/**
 * Inputs and outputs of Drover's workflows and activities. Only ids, ranges, counts and token
 * usage cross these boundaries (claim check): item texts and outputs stay in the store.
 */
import type { Usage } from '../domain/usage.js';

export type { Usage };

/** How often a chunk asks the provider about its batch: exponential backoff between bounds. */
export interface PollPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export interface Tally {
  succeeded: number;
  failed: number;
  usage: Usage;
}

export type BatchStatus = 'queued' | 'running' | 'completed' | 'completed_with_failures' | 'failed';

/** What a batch run carries into its next run on continue-as-new. */
export interface BatchRunState {
  chunkCount: number;
  nextChunk: number;
  inFlight: number[];
  totals: Tally;
}

export interface ProcessBatchInput {
  batchId: string;
  itemCount: number;
  maxParallelChunks: number;
  maxAttempts: number;
  poll: PollPolicy;
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
  chunks: { total: number; completed: number; running: number; waiting: number };
}

// Activity contracts

export interface ChunkRef {
  batchId: string;
  chunkIndex: number;
  attempt: number;
}

export interface SubmitChunkResult {
  /** null when every item of the chunk already has a final outcome: nothing to send. */
  providerBatchId: string | null;
  itemCount: number;
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
}

export interface AttemptTally extends Tally {
  /** Items that failed retryably and go into the next attempt. */
  pending: number;
}

export interface FinishBatchInput extends Tally {
  batchId: string;
  status: BatchStatus;
  error?: string;
}
