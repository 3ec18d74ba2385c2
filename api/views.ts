import type { BatchProgress } from '../workflows/contracts.js';
import { TERMINAL_STATUSES, type BatchRow, type ResultRow } from '../store/rows.js';

/** The public shapes: snake_case like the provider APIs users know. */

export interface BatchView {
  id: string;
  object: 'batch';
  status: string;
  model: string;
  provider: string;
  counts: { total: number; succeeded: number; failed: number; pending: number };
  usage: BatchRow['usage'];
  chunks: { total: number; completed: number; running: number; waiting: number } | null;
  metadata: Record<string, unknown> | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

/** What is known of a running batch: from its workflow, or counted in the store when it cannot answer. */
export type LiveFigures = Pick<BatchProgress, 'status' | 'succeeded' | 'failed' | 'usage'> & { chunks?: BatchProgress['chunks'] };

export function batchView(row: BatchRow, live?: LiveFigures): BatchView {
  const succeeded = live?.succeeded ?? row.succeeded;
  const failed = live?.failed ?? row.failed;
  return {
    id: row.id,
    object: 'batch',
    status: live && row.status !== 'queued' ? live.status : row.status,
    model: row.model,
    provider: row.provider,
    counts: { total: row.item_count, succeeded, failed, pending: row.item_count - succeeded - failed },
    usage: live?.usage ?? row.usage,
    chunks: live?.chunks ?? (row.chunk_count !== null && TERMINAL_STATUSES.includes(row.status) ? { total: row.chunk_count, completed: row.chunk_count, running: 0, waiting: 0 } : null),
    metadata: row.metadata,
    error: row.error,
    created_at: row.created_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    completed_at: row.completed_at?.toISOString() ?? null,
  };
}

export interface ResultView {
  id: string;
  status: ResultRow['status'];
  output: unknown;
  error: ResultRow['error'];
  usage: ResultRow['usage'];
  metadata: ResultRow['metadata'];
}

export function resultView(r: ResultRow): ResultView {
  return { id: r.item_id, status: r.status, output: r.output, error: r.error, usage: r.usage, metadata: r.metadata };
}

export const CSV_COLUMNS = ['id', 'status', 'output', 'error_code', 'error_message', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'reasoning_tokens', 'metadata'] as const;

export function csvRow(r: ResultRow): string {
  const output = r.output === null || r.output === undefined ? '' : typeof r.output === 'string' ? r.output : JSON.stringify(r.output);
  const cells = [
    r.item_id,
    r.status,
    output,
    r.error?.code ?? '',
    r.error?.message ?? '',
    r.usage?.input_tokens ?? '',
    r.usage?.cached_input_tokens ?? '',
    r.usage?.output_tokens ?? '',
    r.usage?.reasoning_tokens ?? '',
    r.metadata ? JSON.stringify(r.metadata) : '',
  ];
  return cells.map(csvCell).join(',') + '\r\n';
}

/** RFC 4180: quote when needed, double inner quotes. */
export function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
