import type { BatchProgress } from '../workflows/contracts.js';
import { projectEta } from '../workflows/batch-ledger.js';
import type { BatchRow, ResultRow } from '../store/rows.js';
import { nanosToDecimal, roundUsd, usdText as formatUsd, usdToNanos } from '../domain/money.js';
import { promptCacheSaving } from '../domain/pricing.js';
import { TERMINAL_BATCH_STATUSES, type BatchView, type FileView, type ResultView } from '../domain/responses.js';
import type { FileRow } from '../store/files.js';
import type { SampleRow } from '../store/samples.js';

/** Rows and live figures as the public shapes of domain/responses.ts: snake_case like the provider APIs users know. */

export type { BatchView, ResultView };

/** What is known of a running batch: from its workflow, or counted in the store when it cannot answer. */
export type LiveFigures = Pick<BatchProgress, 'status' | 'succeeded' | 'failed' | 'cancelled' | 'usage' | 'costUsd'> &
  Partial<Pick<BatchProgress, 'chunks' | 'cost' | 'deadlineMs' | 'etaMs' | 'budget' | 'itemCount' | 'paused' | 'startedAtMs'>>;

/** The workflow projects its ETA with its clock of its last change: projected again now, it is never in the past. */
const etaNow = (l: LiveFigures | undefined, nowMs: number) =>
  l?.etaMs == null || l.itemCount === undefined || l.startedAtMs === undefined
    ? null
    : projectEta(
        { ...l, paused: l.paused ?? false, done: l.succeeded + l.failed + l.cancelled, itemCount: l.itemCount, startedAtMs: l.startedAtMs },
        nowMs,
      );

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export function batchView(row: BatchRow, live?: LiveFigures): BatchView {
  const ended = TERMINAL_BATCH_STATUSES.includes(row.status);
  const succeeded = live?.succeeded ?? row.succeeded;
  const failed = live?.failed ?? row.failed;
  const cancelled = live?.cancelled ?? (ended ? row.item_count - row.succeeded - row.failed : 0);
  // The workflow counts finished attempts of running chunks too: spend shows as each attempt ends.
  const spent = live?.cost?.spentUsd ?? live?.costUsd ?? row.cost_usd;
  return {
    id: row.id,
    object: 'batch',
    status: live && row.status !== 'queued' ? live.status : row.status,
    model: row.model,
    provider: row.provider,
    counts: { total: row.item_count, succeeded, failed, cancelled, pending: row.item_count - succeeded - failed - cancelled },
    usage: live?.usage ?? row.usage,
    cost: {
      spent_usd: roundUsd(spent),
      reserved_usd: roundUsd(live?.cost?.reservedUsd ?? 0),
      limit_usd: live?.cost ? live.cost.limitUsd : row.max_cost_usd,
      estimated_total_usd: ended ? roundUsd(spent) : roundUsd(live?.cost?.estimatedTotalUsd ?? row.estimated_cost_usd ?? 0),
      ...(live?.budget
        ? {
            budget: {
              needed_usd: roundUsd(live.budget.neededUsd),
              free_usd: roundUsd(live.budget.freeUsd),
              scope: live.budget.scope ?? 'batch',
            },
          }
        : {}),
      ...cacheFigures(row, live?.usage ?? row.usage),
    },
    deadline: live?.cost ? iso(live.deadlineMs) : (row.deadline?.toISOString() ?? null),
    chunks:
      live?.chunks ??
      (row.chunk_count !== null && ended ? { total: row.chunk_count, completed: row.chunk_count, running: 0, waiting: 0 } : null),
    metadata: row.metadata,
    error: row.error,
    status_reason: ended ? null : statusReason(row.id, live, row.tenant_id),
    created_at: row.created_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    completed_at: row.completed_at?.toISOString() ?? null,
    eta: ended ? null : iso(etaNow(live, Date.now())),
    ...(row.settings.cache ? { cache: { mode: row.settings.cache, hits: row.cache_hits ?? 0 } } : {}),
    rerun_of: row.rerun_of ?? null,
    ...(row.synthetic ? { synthetic: true as const } : {}),
  };
}

/** What the result cache and the providers' prompt caches saved the batch. */
function cacheFigures(row: BatchRow, usage: { cached_input_tokens: number }) {
  return {
    cache_saved_usd: roundUsd(row.cache_saved_usd ?? 0),
    prompt_cache_saved_usd: row.pricing ? roundUsd(promptCacheSaving(usage, row.pricing, row.mode !== 'realtime')) : 0,
  };
}

function statusReason(id: string, live: LiveFigures | undefined, tenant: string): string | null {
  if (live?.status === 'awaiting_budget' && live.budget?.scope === 'tenant')
    return `waiting for budget: the next attempt needs ${formatUsd(live.budget.neededUsd)} reserved and the tenant's monthly spend cap leaves ${formatUsd(live.budget.freeUsd)} free this month; an admin can raise it (PATCH /v1/admin/tenants/${tenant}/quotas), or it goes on as the tenant's other batches end`;
  if (live?.status === 'awaiting_budget' && live.budget)
    return `waiting for budget: ${live.budget.forSample ? 'the sample' : 'the next attempt'} needs ${formatUsd(live.budget.neededUsd)} reserved (its worst case) and the limit leaves ${formatUsd(live.budget.freeUsd)} free; raise max_cost_usd (PATCH /v1/batches/${id}/limits) or cancel`;
  if (live?.status === 'awaiting_approval')
    return `awaiting approval: the sample has run (GET /v1/batches/${id}/results?sample=true); POST /v1/batches/${id}/approve runs the rest, /reject ends the batch`;
  if (live?.status === 'paused') return `paused: no new chunk starts until POST /v1/batches/${id}/resume`;
  return null;
}

/** What the sample showed, as GET batch shows it. */
export function sampleView(s: SampleRow): NonNullable<BatchView['sample']> {
  return {
    size: s.size,
    succeeded: s.succeeded,
    failed: s.failed,
    success_rate: s.size === 0 ? 0 : Math.round((s.succeeded / s.size) * 1e4) / 1e4,
    cost_usd: roundUsd(s.cost_usd),
    projected_total_usd: roundUsd(s.projected_total_usd),
  };
}

/** A result as the API shows it; `synthetic` when its batch was served by the emulator. */
export function resultView(r: ResultRow, synthetic = false): ResultView {
  return {
    id: r.item_id,
    status: r.status,
    output: r.output,
    error: r.error,
    usage: r.usage,
    // Stored exact; rows written before costs were rounded to the nano-dollar are shown so rounded.
    cost_usd: roundUsd(r.cost_usd),
    path: r.path,
    ...(r.cached_from ? { cached_from: r.cached_from } : {}),
    ...(r.citations ? { citations: r.citations } : {}),
    metadata: r.metadata,
    ...(synthetic ? { synthetic: true as const } : {}),
  };
}

export function fileView(f: FileRow): FileView {
  return {
    id: f.id,
    object: 'file',
    filename: f.filename,
    format: f.format,
    bytes: f.bytes,
    line_count: f.line_count,
    created_at: f.created_at.toISOString(),
    expires_at: f.expires_at.toISOString(),
  };
}

/** What an export of a batch's results depends on besides its rows. */
export interface ExportShape {
  outputColumns: string[] | null;
  synthetic: boolean;
}

export const CSV_COLUMNS = [
  'id',
  'status',
  'output',
  'error_code',
  'error_message',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'cost_usd',
  'metadata',
] as const;

/**
 * The CSV columns a JSON output flattens into: one per leaf of the batch's schema (nested
 * objects by dotted path; arrays stay one JSON cell). null for text outputs: one `output` column.
 */
export function outputColumnsOf(schema: Record<string, unknown> | null): string[] | null {
  if (!schema || typeof schema.properties !== 'object' || schema.properties === null) return null;
  const columns: string[] = [];
  const walk = (s: Record<string, unknown>, prefix: string, depth: number) => {
    const properties = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
    // The spec is stored as jsonb, which reorders keys; `required` (an array) keeps the author's order.
    const required = Array.isArray(s.required) ? (s.required as string[]).filter((k) => k in properties) : [];
    const keys = [...required, ...Object.keys(properties).filter((k) => !required.includes(k))];
    for (const [key, sub] of keys.map((k) => [k, properties[k]!] as const)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (depth < 4 && sub && typeof sub.properties === 'object' && sub.properties !== null) walk(sub, path, depth + 1);
      else columns.push(path);
    }
  };
  walk(schema, '', 0);
  return columns.length > 0 ? columns : null;
}

/** A batch served by the emulator exports a last column, `synthetic`, true on every row. */
export function csvHeader(outputColumns: string[] | null = null, synthetic = false): string {
  const columns: string[] = outputColumns
    ? CSV_COLUMNS.flatMap((c) => (c === 'output' ? outputColumns.map((p) => `output.${p}`) : [c]))
    : [...CSV_COLUMNS];
  if (synthetic) columns.push('synthetic');
  // Column names start with `output.` or are Drover's own, so none reads as a formula.
  return columns.map(csvCell).join(',') + '\r\n';
}

function cellOf(v: unknown): string {
  return v === null || v === undefined ? '' : typeof v === 'string' ? inertCell(v) : JSON.stringify(v);
}

/**
 * A text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or CR before one)
 * gets a leading `'`, so opening an export never executes what an item or a model wrote (OWASP
 * CSV injection). Numbers and JSON cells are written as they are.
 */
export function inertCell(s: string): string {
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

function at(value: unknown, path: string): unknown {
  let v = value;
  for (const key of path.split('.'))
    v = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

export function csvRow(r: ResultRow, outputColumns: string[] | null = null, synthetic = false): string {
  const output = outputColumns ? outputColumns.map((p) => cellOf(at(r.output, p))) : [cellOf(r.output)];
  const cells = [
    inertCell(r.item_id),
    r.status,
    ...output,
    inertCell(r.error?.code ?? ''),
    inertCell(r.error?.message ?? ''),
    r.usage?.input_tokens ?? '',
    r.usage?.cached_input_tokens ?? '',
    r.usage?.output_tokens ?? '',
    r.usage?.reasoning_tokens ?? '',
    // A plain decimal: `String(3.8e-8)` would be an exponent a spreadsheet may read as text.
    nanosToDecimal(usdToNanos(r.cost_usd)),
    r.metadata ? JSON.stringify(r.metadata) : '',
    ...(synthetic ? ['true'] : []),
  ];
  return cells.map(csvCell).join(',') + '\r\n';
}

/** RFC 4180: quote when needed, double inner quotes. */
export function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
