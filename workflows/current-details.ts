import { usdText as formatUsd } from '../domain/money.js';
import type { BatchProgress, StopReason } from './contracts.js';

/**
 * The current details of batch and chunk workflows: the markdown the Temporal UI shows on a
 * workflow's page (Temporal's user metadata, served by the built-in `__temporal_workflow_metadata`
 * query). Pure functions of the workflows' in-memory state, so setting them is no command and
 * rendering them is cheap enough to do on every change.
 */

/** Thousands separated by commas, without Intl (the same in and out of the workflow sandbox). */
const count = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
/** A workflow's clock as a UTC timestamp to the second: `2026-12-01 17:35:10 UTC`. */
export const formatTime = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;

const table = (rows: Array<[string, string]>) => ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
/** Dollar signs escaped: the Temporal UI's markdown reads two on a line as inline math. */
const escapeDollars = (md: string) => md.replaceAll('$', '\\$');

const STOPPING: Record<StopReason, string> = {
  cancelled: 'stopping: cancelled; running provider batches are being cancelled and their partial results collected',
  timed_out: 'stopping: the deadline passed; running provider batches are being cancelled and their partial results collected',
  budget_exhausted: 'stopping: the cost limit is reached; running provider batches are being cancelled',
};

/** What the batch is doing, in words an operator can act on. */
export function batchState(batchId: string, p: BatchProgress, stopReason: StopReason | null = null): string {
  switch (p.status) {
    case 'queued':
      return 'queued: planning its chunks';
    case 'running':
      return p.paused ? 'pausing: no new chunk starts; running ones finish' : 'running';
    case 'paused':
      return `paused: no new chunk starts until \`POST /v1/batches/${batchId}/resume\``;
    case 'cancelling':
      return stopReason ? STOPPING[stopReason] : 'stopping';
    case 'awaiting_budget': {
      const b = p.budget;
      if (!b) return 'awaiting budget';
      if (b.scope === 'tenant')
        return `awaiting budget: the next attempt needs ${formatUsd(b.neededUsd)} reserved and the tenant's monthly spend cap leaves ${formatUsd(b.freeUsd)} free`;
      return `awaiting budget: the next attempt needs ${formatUsd(b.neededUsd)} reserved (its worst case) and the batch limit leaves ${formatUsd(b.freeUsd)} free; raise \`max_cost_usd\` (\`PATCH /v1/batches/${batchId}/limits\`) or cancel`;
    }
    default:
      return `ended: ${p.status}`;
  }
}

/**
 * A batch's current details: progress, outcomes, cost against the limit, ETA, state and where
 * the API serves its status and results. `nowMs` is the workflow's clock when they were set.
 */
export function renderBatchDetails(batchId: string, p: BatchProgress, nowMs: number, stopReason: StopReason | null = null): string {
  const done = p.succeeded + p.failed + p.cancelled;
  const pct = p.itemCount > 0 ? ((done / p.itemCount) * 100).toFixed(1) : '0.0';
  const { spentUsd, reservedUsd, limitUsd } = p.cost;
  const cost = `${formatUsd(spentUsd)} spent of ${limitUsd === null ? 'no limit' : `${formatUsd(limitUsd)} limit`} · ${formatUsd(reservedUsd)} reserved`;
  const rows: Array<[string, string]> = [
    ['state', batchState(batchId, p, stopReason)],
    ['progress', `${count(done)} / ${count(p.itemCount)} items (${pct}%)`],
    ['succeeded', count(p.succeeded)],
    ['failed', count(p.failed)],
    ['cancelled', count(p.cancelled)],
    ['pending', count(p.pending)],
    ['cost', cost],
    ['ETA', p.etaMs === null ? '–' : formatTime(p.etaMs)],
  ];
  if (p.chunks.total > 0)
    rows.push([
      'chunks',
      `${count(p.chunks.completed)} done · ${count(p.chunks.running)} running · ${count(p.chunks.waiting)} to start, of ${count(p.chunks.total)}`,
    ]);
  if (p.deadlineMs !== null) rows.push(['deadline', formatTime(p.deadlineMs)]);
  const md = [
    table(rows),
    '',
    `Status: \`GET /v1/batches/${batchId}\` · results: \`GET /v1/batches/${batchId}/results?format=jsonl\``,
    '',
    `_as of ${formatTime(nowMs)}_`,
  ].join('\n');
  return escapeDollars(md);
}

/** Where a chunk's current attempt is. */
export type ChunkPhase =
  | { name: 'submitting' }
  | { name: 'calling'; items: number }
  | { name: 'polling'; providerState: string | null }
  | { name: 'collecting' }
  | { name: 'awaiting_grant' }
  | { name: 'stopping'; providerState?: string | null }
  | { name: 'closing'; error: string }
  | { name: 'reporting' }
  | { name: 'done'; succeeded: number; failed: number; cancelled: number; error?: string | undefined };

export interface ChunkView {
  batchId: string;
  chunkIndex: number;
  attempt: number;
  maxAttempts: number;
  path: 'batch' | 'realtime' | null;
  providerBatchId: string | null;
  phase: ChunkPhase;
  /** Items finished by the attempts before this one. */
  succeeded: number;
  failed: number;
}

function phaseText(v: ChunkView): string {
  const ph = v.phase;
  switch (ph.name) {
    case 'submitting':
      return 'submitting: building its requests and creating the provider batch';
    case 'calling':
      return `calling the provider in realtime: ${count(ph.items)} items`;
    case 'polling':
      return `polling ${ph.providerState ?? 'the provider batch'}`;
    case 'collecting':
      return 'collecting: reading the output and error files into the results';
    case 'awaiting_grant':
      return `waiting for its next attempt's budget: the batch reserves attempt ${v.attempt}'s worst case first`;
    case 'stopping':
      return `stopping: cancelling the provider batch${ph.providerState ? ` (${ph.providerState})` : ''} and collecting its partial results`;
    case 'closing':
      return `failed: closing its unfinished items (${ph.error})`;
    case 'reporting':
      return 'reporting its tally to the batch';
    case 'done':
      return `done: ${count(ph.succeeded)} succeeded · ${count(ph.failed)} failed · ${count(ph.cancelled)} cancelled${ph.error ? ` (${ph.error})` : ''}`;
  }
}

/** A chunk's current details: its provider batch, attempt, path and what it waits for. */
export function renderChunkDetails(v: ChunkView, nowMs: number): string {
  const rows: Array<[string, string]> = [
    ['state', phaseText(v)],
    ['provider batch', v.providerBatchId ? `\`${v.providerBatchId}\`` : '–'],
    ['attempt', `${v.attempt} of ${v.maxAttempts}`],
    ['path', v.path ?? '–'],
    ['earlier attempts', `${count(v.succeeded)} succeeded · ${count(v.failed)} failed`],
  ];
  return escapeDollars(
    [
      table(rows),
      '',
      `Chunk ${v.chunkIndex} of \`${v.batchId}\` · status: \`GET /v1/batches/${v.batchId}\``,
      '',
      `_as of ${formatTime(nowMs)}_`,
    ].join('\n'),
  );
}
