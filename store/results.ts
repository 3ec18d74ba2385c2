import { nanosToDecimal, roundUsd, usdToNanos, type Nanos } from '../domain/money.js';
import type { Usage } from '../domain/usage.js';
import type { Queryable } from './db.js';
import type { ItemError, ResultStatus } from '../domain/responses.js';
import { ResultRow } from './rows.js';

export interface NewResult {
  seq: number;
  status: ResultStatus;
  output: unknown;
  error: ItemError | null;
  usage: Usage | null;
  /** What the call cost, in nano-dollars: written as an exact decimal. */
  cost_nanos: Nanos;
  path?: 'batch' | 'realtime';
  citations?: unknown[];
}

// On a newer attempt, what the row held moves into prior_*; on a rewrite of the same attempt
// prior_* stays as it was. Either way prior + latest is what the item cost in all.
const CARRY_PRIOR = `
  prior_cost_usd = CASE WHEN results.attempt < EXCLUDED.attempt THEN results.prior_cost_usd + results.cost_usd ELSE results.prior_cost_usd END,
  prior_usage = CASE WHEN results.attempt < EXCLUDED.attempt THEN add_usage(results.prior_usage, results.usage) ELSE results.prior_usage END`;

/**
 * What one write changed, for the metrics: the rows it made final (from pending or absent), by
 * status and path, and what it added to the items' cost (prior + latest). A retried write that
 * rewrites the same rows changes nothing and reports nothing, so each item counts once.
 */
export interface WriteEffect {
  finals: Array<{ status: ResultStatus; path: string | null; n: number }>;
  costNanos: Nanos;
}

const NO_EFFECT: WriteEffect = { finals: [], costNanos: 0 };

// For writes that only ever close rows that were pending or absent.
const FINALS_OF_UP = `SELECT status, path, count(*)::int AS n FROM up WHERE status <> 'pending' GROUP BY status, path`;

/** Written rows (each with what it added and its status before, null when new), or groups of them (`n` made final), as a WriteEffect. */
function toWriteEffect(
  rows: Array<{ status: ResultStatus; path: string | null; n?: number; added?: number; old_status?: ResultStatus | null }>,
): WriteEffect {
  const finals = new Map<string, { status: ResultStatus; path: string | null; n: number }>();
  let costNanos = 0;
  for (const r of rows) {
    costNanos += usdToNanos(r.added ?? 0);
    const madeFinal =
      r.n ?? (r.status !== 'pending' && (r.old_status === null || r.old_status === undefined || r.old_status === 'pending') ? 1 : 0);
    if (madeFinal === 0) continue;
    const key = `${r.status}/${r.path}`;
    const f = finals.get(key) ?? finals.set(key, { status: r.status, path: r.path, n: 0 }).get(key)!;
    f.n += madeFinal;
  }
  return { finals: [...finals.values()], costNanos };
}

/**
 * Writes one attempt's outcomes. Rows not there yet are inserted; rows already there are
 * updated under the `attempt <=` guard, which makes a retried collect rewrite identical rows
 * instead of adding any, and stops a stale attempt from overwriting a newer one. Returns what the
 * write made final and the cost it added (WriteEffect), so the metrics count each item once.
 */
export async function upsertResults(
  db: Queryable,
  tenantId: string,
  batchId: string,
  attempt: number,
  rows: NewResult[],
): Promise<WriteEffect> {
  if (rows.length === 0) return NO_EFFECT;
  // Most writes are of rows not there yet (a first collect, realtime answers): a plain insert,
  // as fast as before, whose returned rows are all new.
  const { rows: inserted } = await db.query(
    `INSERT INTO results (tenant_id, batch_id, seq, status, output, error, usage, cost_usd, attempt, path, citations)
     SELECT $1, $2, t.seq, t.status, t.output, t.error, t.usage, t.cost_usd, $3, t.path, t.citations
     FROM ${RESULTS_FROM_JSON}
     ON CONFLICT (batch_id, seq) DO NOTHING
     RETURNING seq, status, path, cost_usd AS added, NULL AS old_status`,
    [tenantId, batchId, attempt, resultsJson(rows)],
  );
  if (inserted.length === rows.length) return toWriteEffect(inserted);
  const written = new Set(inserted.map((r: { seq: number }) => r.seq));
  const existing = rows.filter((r) => !written.has(r.seq));
  // The others have a row already: upserted as ever (the key's index finds each), with `prev`,
  // how each stood in the statement's snapshot before `up` wrote, saying what the write changed.
  // (Two tries writing the same rows at the same instant could both see them unwritten: the
  // metrics would count those items twice; the rows themselves stay right.)
  const { rows: updated } = await db.query(
    `WITH prev AS (
       SELECT seq, status, prior_cost_usd + cost_usd AS total FROM results WHERE batch_id = $2 AND seq = ANY($5::int[])),
     up AS (
       INSERT INTO results (tenant_id, batch_id, seq, status, output, error, usage, cost_usd, attempt, path, citations)
       SELECT $1, $2, t.seq, t.status, t.output, t.error, t.usage, t.cost_usd, $3, t.path, t.citations
       FROM ${RESULTS_FROM_JSON}
       ON CONFLICT (batch_id, seq) DO UPDATE SET status = EXCLUDED.status, output = EXCLUDED.output, error = EXCLUDED.error,
         usage = EXCLUDED.usage, cost_usd = EXCLUDED.cost_usd, attempt = EXCLUDED.attempt, path = EXCLUDED.path,
         citations = EXCLUDED.citations, updated_at = now(),${CARRY_PRIOR}
       WHERE results.attempt <= EXCLUDED.attempt AND results.status = 'pending' OR results.attempt = EXCLUDED.attempt
       RETURNING seq, status, path, prior_cost_usd + cost_usd AS total)
     SELECT up.status, up.path,
       count(*) FILTER (WHERE up.status <> 'pending' AND (prev.status IS NULL OR prev.status = 'pending'))::int AS n,
       COALESCE(sum(up.total - COALESCE(prev.total, 0)), 0) AS added
     FROM up LEFT JOIN prev USING (seq) GROUP BY up.status, up.path`,
    [tenantId, batchId, attempt, resultsJson(existing), existing.map((r) => r.seq)],
  );
  return toWriteEffect([...inserted, ...updated]);
}

/**
 * A page of results travels as one JSON array (`$4`) that PostgreSQL unpacks itself: one
 * JSON.stringify in the worker instead of eight array literals escaped element by element in
 * JavaScript (the writes' largest cost in a profile of 1,000,000 items), and nested values
 * (output, error, usage, citations) arrive as jsonb without being quoted into strings first.
 * A JSON null is SQL NULL, as before.
 */
const RESULTS_FROM_JSON = `json_to_recordset($4::json)
       AS t(seq int, status text, output jsonb, error jsonb, usage jsonb, cost_usd numeric, path text, citations jsonb)`;

/** The rows of RESULTS_FROM_JSON ($4); the cost as an exact decimal string, which numeric reads as it is. */
function resultsJson(rows: NewResult[]): string {
  return JSON.stringify(
    rows.map((r) => ({
      seq: r.seq,
      status: r.status,
      output: r.output === undefined ? null : r.output,
      error: r.error ?? null,
      usage: r.usage ?? null,
      cost_usd: nanosToDecimal(r.cost_nanos),
      path: r.path ?? 'batch',
      citations: r.citations ?? null,
    })),
  );
}

/**
 * Items of the range that this attempt sent but the provider never answered (a failed or
 * cancelled provider batch, a line it dropped) get `error` so nothing is silently lost.
 */
export async function markUnanswered(
  db: Queryable,
  tenantId: string,
  batchId: string,
  range: { seq_start: number; seq_end: number },
  attempt: number,
  status: ResultStatus,
  error: ItemError,
): Promise<WriteEffect> {
  // Only rows that were pending or absent are written, and the cost moves into prior_*: no cost changes.
  const { rows } = await db.query(
    `WITH up AS (
     INSERT INTO results (tenant_id, batch_id, seq, status, error, attempt)
     SELECT $1, i.batch_id, i.seq, $5, $6::jsonb, $7 FROM items i
     LEFT JOIN results r ON r.batch_id = i.batch_id AND r.seq = i.seq AND r.seq >= $3 AND r.seq < $4
     WHERE i.batch_id = $2 AND i.seq >= $3 AND i.seq < $4 AND (r.seq IS NULL OR (r.status = 'pending' AND r.attempt < $7))
     ON CONFLICT (batch_id, seq) DO UPDATE SET status = EXCLUDED.status, error = EXCLUDED.error, output = NULL,
       usage = NULL, cost_usd = 0, attempt = EXCLUDED.attempt, updated_at = now(),${CARRY_PRIOR}
     RETURNING status, path)
     ${FINALS_OF_UP}`,
    [tenantId, batchId, range.seq_start, range.seq_end, status, JSON.stringify(error), attempt],
  );
  return toWriteEffect(rows);
}

export interface AttemptTally {
  succeeded: number;
  failed: number;
  cancelled: number;
  pending: number;
  usage: Usage;
  cost_usd: number;
}

/** What one attempt of one chunk produced, read back from the store so retries report the same. */
export async function tallyAttempt(
  db: Queryable,
  batchId: string,
  range: { seq_start: number; seq_end: number },
  attempt: number,
): Promise<AttemptTally> {
  const { rows } = await db.query(
    `SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'pending')::int AS pending,
            count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
            COALESCE(sum(cost_usd), 0) AS cost_usd,
            COALESCE(sum((usage->>'input_tokens')::bigint), 0) AS input_tokens,
            COALESCE(sum((usage->>'cached_input_tokens')::bigint), 0) AS cached_input_tokens,
            COALESCE(sum((usage->>'output_tokens')::bigint), 0) AS output_tokens,
            COALESCE(sum((usage->>'reasoning_tokens')::bigint), 0) AS reasoning_tokens
     FROM results WHERE batch_id = $1 AND seq >= $2 AND seq < $3 AND attempt = $4`,
    [batchId, range.seq_start, range.seq_end, attempt],
  );
  return toAttemptTally(rows[0]);
}

/** One row of counts and sums (numeric columns arrive as numbers: see store/db.ts). */
function toAttemptTally(r: Record<string, number>): AttemptTally {
  return {
    succeeded: r.succeeded!,
    failed: r.failed!,
    cancelled: r.cancelled!,
    pending: r.pending!,
    // Exact in the store; to the nano-dollar here for rows written before costs were (pico-dollars then).
    cost_usd: roundUsd(r.cost_usd!),
    usage: {
      input_tokens: r.input_tokens!,
      cached_input_tokens: r.cached_input_tokens!,
      output_tokens: r.output_tokens!,
      reasoning_tokens: r.reasoning_tokens!,
    },
  };
}

/**
 * One token count summed over prior and latest usage: what `add_usage(prior_usage, usage)` gives
 * row by row, summed column by column instead, because building a jsonb per row took 3 minutes
 * for 1,000,000 rows against 7 s (PostgreSQL 17 on this project's 2-core machine, loaded).
 */
const usageSum = (field: string) =>
  `COALESCE(sum((r.prior_usage->>'${field}')::bigint), 0) + COALESCE(sum((r.usage->>'${field}')::bigint), 0) AS ${field}`;

/**
 * Every item of a range (or of the whole batch) by its outcome, with the cost and usage of all
 * its attempts: what a chunk or a batch reports when it ends, so the workflow's counts are the
 * store's.
 */
export async function tallyRange(db: Queryable, batchId: string, range?: { seq_start: number; seq_end: number }): Promise<AttemptTally> {
  const { rows } = await db.query(
    `SELECT count(*) FILTER (WHERE r.status = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
            count(*) FILTER (WHERE r.status = 'cancelled')::int AS cancelled,
            count(*) FILTER (WHERE r.seq IS NULL OR r.status = 'pending')::int AS pending,
            COALESCE(sum(r.prior_cost_usd + r.cost_usd), 0) AS cost_usd,
            ${usageSum('input_tokens')}, ${usageSum('cached_input_tokens')}, ${usageSum('output_tokens')}, ${usageSum('reasoning_tokens')}
     FROM items i LEFT JOIN results r ON r.batch_id = i.batch_id AND r.seq = i.seq AND r.seq >= $2 AND r.seq < $3
     WHERE i.batch_id = $1 AND i.seq >= $2 AND i.seq < $3`,
    [batchId, range?.seq_start ?? 0, range?.seq_end ?? 2 ** 31 - 1],
  );
  return toAttemptTally(rows[0]);
}

export const RESULT_SELECT = `SELECT i.seq, i.item_id, COALESCE(r.status, 'pending') AS status, r.output, r.error,
    add_usage(r.prior_usage, r.usage) AS usage, COALESCE(r.prior_cost_usd + r.cost_usd, 0) AS cost_usd, r.attempt, r.path, r.citations, r.cached_from, i.metadata
  FROM items i LEFT JOIN results r ON r.batch_id = i.batch_id AND r.seq = i.seq`;

// `$2` is the status filter or NULL: one query text for every filter keeps the plans cached.
const STATUS_FILTER = `($2::text IS NULL OR COALESCE(r.status, 'pending') = $2)`;

export async function resultPage(
  db: Queryable,
  batchId: string,
  q: { status?: ResultStatus; offset: number; limit: number },
): Promise<{ rows: ResultRow[]; total: number }> {
  const status = q.status ?? null;
  const { rows } = await db.query(`${RESULT_SELECT} WHERE i.batch_id = $1 AND ${STATUS_FILTER} ORDER BY i.seq LIMIT $3 OFFSET $4`, [
    batchId,
    status,
    q.limit,
    q.offset,
  ]);
  const { rows: count } = await db.query(
    `SELECT count(*)::int AS n FROM items i LEFT JOIN results r ON r.batch_id = i.batch_id AND r.seq = i.seq
     WHERE i.batch_id = $1 AND ${STATUS_FILTER}`,
    [batchId, status],
  );
  return { rows: rows.map((r) => ResultRow.parse(r)), total: count[0].n };
}

/**
 * Every matching row in `seq` order, a page at a time (keyset), so exports stream in bounded
 * memory. The next page is asked for as soon as a page arrives, so PostgreSQL reads it while
 * this one is encoded and sent: at most two pages are held, and each query holds a pooled
 * connection only while it runs (a slow client never pins one).
 */
/**
 * Every result of a batch in seq order, a page at a time, the next page asked for while this one
 * is read. Pages are windows of seqs (items are numbered 0 to item_count - 1), not a LIMIT over
 * the join: each query joins at most `pageSize` items whatever plan PostgreSQL picks. A batch
 * just written has no statistics yet, and with a LIMIT the planner then joined and sorted every
 * item after the cursor for each page (1,000,000 rows exported at 6,000 to 12,000 rows/s).
 */
export async function* iterateResults(db: Queryable, batchId: string, status?: ResultStatus, pageSize = 5000): AsyncGenerator<ResultRow> {
  const { rows: bounds } = await db.query('SELECT max(seq) AS last FROM items WHERE batch_id = $1', [batchId]);
  const last: number | null = bounds[0].last;
  if (last === null) return;
  const page = (from: number) => {
    const query = db.query(`${RESULT_SELECT} WHERE i.batch_id = $1 AND ${STATUS_FILTER} AND i.seq >= $3 AND i.seq < $4 ORDER BY i.seq`, [
      batchId,
      status ?? null,
      from,
      from + pageSize,
    ]);
    // A reader that stops early leaves the page it asked for unread: its failure is nobody's.
    query.catch(() => {});
    return query;
  };
  let from = 0;
  let next = page(from);
  for (;;) {
    const { rows } = await next;
    from += pageSize;
    const more = from <= last;
    if (more) next = page(from);
    for (const r of rows) yield ResultRow.parse(r);
    if (!more) return;
  }
}

export async function resultForItem(db: Queryable, batchId: string, itemId: string): Promise<ResultRow | null> {
  const { rows } = await db.query(`${RESULT_SELECT} WHERE i.batch_id = $1 AND i.item_id = $2`, [batchId, itemId]);
  return rows[0] ? ResultRow.parse(rows[0]) : null;
}

export async function countResults(db: Queryable, batchId: string): Promise<Record<ResultStatus, number> & { cost_usd: number }> {
  const { rows } = await db.query(
    `SELECT count(*) FILTER (WHERE r.status = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
            count(*) FILTER (WHERE r.status = 'cancelled')::int AS cancelled,
            COALESCE(sum(r.prior_cost_usd + r.cost_usd), 0) AS cost_usd,
            count(*) FILTER (WHERE r.seq IS NULL OR r.status = 'pending')::int AS pending
     FROM items i LEFT JOIN results r ON r.batch_id = i.batch_id AND r.seq = i.seq WHERE i.batch_id = $1`,
    [batchId],
  );
  return { ...rows[0], cost_usd: roundUsd(rows[0].cost_usd) };
}

/**
 * When a batch stops early (cancelled, deadline, budget), items that never got a final outcome
 * are closed as `cancelled` with the reason, so every item is reported and none stays pending.
 */
export async function closeUnfinished(
  db: Queryable,
  tenantId: string,
  batchId: string,
  error: ItemError,
  opts: { status?: 'cancelled' | 'failed'; range?: { seq_start: number; seq_end: number } } = {},
): Promise<WriteEffect> {
  // Every row written was pending or absent: each is made final here, and its cost stays.
  const { rows } = await db.query(
    `WITH up AS (
     INSERT INTO results (tenant_id, batch_id, seq, status, error, attempt)
     SELECT $1, i.batch_id, i.seq, $4, $3::jsonb, COALESCE(r.attempt, 0) FROM items i
     LEFT JOIN results r ON r.batch_id = i.batch_id AND r.seq = i.seq AND r.seq >= $5 AND r.seq < $6
     WHERE i.batch_id = $2 AND i.seq >= $5 AND i.seq < $6 AND (r.seq IS NULL OR r.status = 'pending')
     ON CONFLICT (batch_id, seq) DO UPDATE SET status = EXCLUDED.status, error = EXCLUDED.error, updated_at = now()
     RETURNING status, path)
     ${FINALS_OF_UP}`,
    [tenantId, batchId, JSON.stringify(error), opts.status ?? 'cancelled', opts.range?.seq_start ?? 0, opts.range?.seq_end ?? 2 ** 31 - 1],
  );
  return toWriteEffect(rows);
}

export interface ResultChange {
  seq: number;
  item_id: string;
  status: ResultStatus;
  /** PostgreSQL's own text of the timestamp: microseconds intact, unlike a JS Date. */
  at: string;
}

/**
 * Items whose outcome was written after the cursor `(updated_at, seq)`, oldest first: what an
 * event stream sends next; the cursor is the SSE event id, so it survives reconnects. Rows of
 * the last second are held back while the batch runs: a transaction that began earlier may
 * still commit rows with earlier timestamps, and the cursor must not have passed them.
 */
export async function resultChanges(
  db: Queryable,
  batchId: string,
  after: { at: string; seq: number },
  settled: boolean,
  limit = 500,
): Promise<ResultChange[]> {
  const { rows } = await db.query(
    `SELECT r.seq, i.item_id, r.status, r.updated_at::text AS at FROM results r JOIN items i ON i.batch_id = r.batch_id AND i.seq = r.seq
     WHERE r.batch_id = $1 AND r.status <> 'pending' AND (r.updated_at, r.seq) > ($2::timestamptz, $3::int)
       AND ($4 OR r.updated_at < now() - interval '1 second')
     ORDER BY r.updated_at, r.seq LIMIT $5`,
    [batchId, after.at, after.seq, settled, limit],
  );
  return rows;
}
