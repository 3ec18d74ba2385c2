import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { batchesByIds, findBatch, findBatchByIdempotencyKey, insertBatch, rerunsOf, setItemCount, setLimits } from '../store/batches.js';
import { copyItemsForRerun } from '../store/items.js';
import { purgeTenantCache } from '../store/result-cache.js';
import type { RerunRequest } from '../domain/batch-spec.js';
import { estimateCost, outputCap } from '../domain/estimate.js';
import { nanosToUsd, roundUsd, usdText as formatUsd } from '../domain/money.js';
import { inTransaction, type Db } from '../store/db.js';
import { countResults, iterateResults, resultChanges, resultPage, resultForItem } from '../store/results.js';
import {
  BatchStatus,
  TERMINAL_BATCH_STATUSES,
  type BatchEstimate,
  type BatchList,
  type CachePurge,
  type CompletionResponse,
  type ResultPage,
  type ResultStatus,
  type ValidationResponse,
} from '../domain/responses.js';
import type { BatchRow, ResultRow } from '../store/rows.js';
import type { BatchProgress, LimitsPatch, PollPolicy } from '../workflows/contracts.js';
import {
  approveUpdate,
  cancelUpdate,
  pauseUpdate,
  progressQuery,
  rejectUpdate,
  resumeUpdate,
  setLimitsUpdate,
} from '../workflows/definitions.js';
import { findSample, likelySampleTokens, sampleResultPage } from '../store/samples.js';
import type { processBatchWorkflow } from '../workflows/process-batch.js';
import { DroverItemCount, DroverKind, DroverModel, DroverProvider, DroverStatus, DroverTenant } from '../workflows/search-attributes.js';
import type { IntakeContext } from './intake/batch-draft.js';
import { discardBody, openBatch, type BatchRequest } from './intake/batch-request.js';
import { newBatch, type Stored } from './intake/new-batch.js';
import { draftFromSettings } from './intake/batch-draft.js';
import { rerunSettings } from './rerun-settings.js';
import { WorkerOffers } from './intake/worker-offers.js';
import { MAX_SYNC_ITEMS } from './intake/request-schemas.js';
import { AppError, LimitError, NotFoundError, ValidationError } from './errors.js';
import { LiveFiguresCache } from './live-figures.js';
import { openCursor, sealCursor } from './list-cursor.js';
import { QuotaService } from './quotas/quota-service.js';
import { visibilityQuery, type Clause } from './visibility-query.js';
import {
  batchView,
  outputColumnsOf,
  resultView,
  sampleView,
  type BatchView,
  type ExportShape,
  type LiveFigures,
  type ResultView,
} from './views.js';

const QUERY_DEADLINE_MS = 3000;

export interface BatchServiceConfig extends Omit<IntakeContext, 'offers'> {
  taskQueue: string;
  poll: PollPolicy;
  chunksPerRun?: number | undefined;
  reconcileMs?: number | undefined;
  /** How long the workers' registrations are cached between reads of the store. */
  workerOffersCacheMs?: number | undefined;
}

export type Submitted =
  | { batch: BatchView & { webhook_secret?: string }; replayed: boolean; estimate?: undefined }
  | { estimate: BatchEstimate; batch?: undefined; replayed?: undefined };

export interface ListQuery {
  status?: string | undefined;
  model?: string | undefined;
  created_after?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** The same idempotency key with a different request: naming the batch the key holds. */
export class IdempotencyConflictError extends AppError {
  constructor(key: string, batchId: string) {
    super(
      409,
      'idempotency_conflict',
      `idempotency_key ${JSON.stringify(key)} already names batch ${batchId}, created from a different request; send that same request to get it, or use a new key`,
      [{ path: 'idempotency_key', message: `already used by batch ${batchId} for a different request` }],
    );
  }
}

/** Settings a completion does not take: it runs now, once, and is not a batch of its own to steer. */
const COMPLETION_REFUSES = ['dry_run', 'idempotency_key', 'chunk_size', 'max_parallel_chunks', 'webhook_url'] as const;

/** The longest a completion request is held open; longer work is a batch. */
export const MAX_COMPLETION_WAIT_S = 600;

export function completionWaitLimit(): LimitError {
  return new LimitError(
    `a completion waits at most ${MAX_COMPLETION_WAIT_S} s (timeout_seconds); for longer work submit a batch (POST /v1/batches) and follow GET /v1/batches/:id/events or a webhook_url`,
    [{ path: 'timeout_seconds', message: `at most ${MAX_COMPLETION_WAIT_S}` }],
  );
}

/** A message for a batch that has ended: the caller's mistake, not the server's. */
export class BatchEndedError extends AppError {
  constructor(id: string, status: string, what: string) {
    super(409, 'batch_ended', `batch ${id} has ended (${status}); it can no longer ${what}`);
  }
}

/** A rerun of a batch that still runs: only what has ended can be run again. */
export class BatchNotEndedError extends AppError {
  constructor(id: string, status: string) {
    super(409, 'batch_not_ended', `batch ${id} is ${status}; a batch can be rerun once it has ended (cancel it, or wait)`);
  }
}

/** A rerun that would hold no item. */
export class NothingToRerunError extends AppError {
  constructor(id: string, statuses: readonly string[]) {
    super(409, 'nothing_to_rerun', `batch ${id} has no ${statuses.join(' or ')} items to rerun`, [
      { path: 'status', message: `no item of batch ${id} ended ${statuses.join(' or ')}` },
    ]);
  }
}

/** Everything the batch routes do, behind one object the HTTP layer calls. */
export class BatchService {
  private readonly workerOffers: WorkerOffers;
  private readonly liveFigures = new LiveFiguresCache();

  constructor(
    private readonly db: Db,
    private readonly temporal: Client,
    private readonly config: BatchServiceConfig,
    private readonly quotas: QuotaService = new QuotaService(db),
  ) {
    this.workerOffers = new WorkerOffers(
      db,
      { namespace: temporal.options.namespace, taskQueue: config.taskQueue },
      config.workerOffersCacheMs ?? 5_000,
    );
  }

  /** One path for every form of request: a replay by idempotency key, else store and start. */
  async submit(tenantId: string, request: BatchRequest): Promise<Submitted> {
    const pending = await openBatch(this.db, tenantId, request, await this.intake());
    const key = pending.idempotencyKey;
    if (key) {
      const row = await findBatchByIdempotencyKey(this.db, tenantId, key);
      if (row) {
        // The same key with another request is the caller's mistake, not a replay: say which batch holds it.
        if (row.request_hash && row.request_hash !== (await pending.requestHash())) throw new IdempotencyConflictError(key, row.id);
        discardBody(request);
        return this.replay(row);
      }
    }
    try {
      await this.quotas.admitBatch(tenantId);
    } catch (err) {
      discardBody(request);
      throw err;
    }
    return this.started(tenantId, await pending.store(), key, () => pending.requestHash());
  }

  /** The chunk plan, tokens and cost of a request; nothing is stored. */
  async estimate(tenantId: string, request: BatchRequest): Promise<BatchEstimate> {
    return (await openBatch(this.db, tenantId, request, await this.intake())).estimate();
  }

  /** Every problem of a request, with its line or path, and nothing created. */
  async validate(tenantId: string, request: BatchRequest): Promise<ValidationResponse> {
    try {
      const estimate = await this.estimate(tenantId, request);
      return {
        object: 'validation',
        valid: true,
        item_count: estimate.item_count,
        chunk_count: estimate.chunks.count,
        issue_count: 0,
        issues: [],
      };
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      discardBody(request);
      return { object: 'validation', valid: false, issue_count: err.issueCount, issues: err.issues ?? [] };
    }
  }

  /**
   * The synchronous form of an operation: a small realtime batch the API waits on. Items may
   * omit ids (they get their position). A batch that outlives `timeoutMs` answers 504 naming
   * the batch, whose results stay available as for any batch.
   */
  async complete(tenantId: string, operation: string, body: unknown, timeoutMs: number): Promise<CompletionResponse> {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new ValidationError([{ path: '(body)', message: 'the body must be a JSON object' }]);
    const { items, ...rest } = body as Record<string, unknown>;
    // Batch-only settings: a completion runs now, once, and answers in the response.
    const batchOnly = COMPLETION_REFUSES.filter((f) => f in rest);
    if (batchOnly.length > 0)
      throw new ValidationError(
        batchOnly.map((f) => ({
          path: f,
          message:
            f === 'dry_run'
              ? 'a completion runs now; for an estimate use POST /v1/batches/estimate'
              : `${f} is a batch setting; a completion runs now (send it to POST /v1/batches)`,
        })),
      );
    if (timeoutMs > MAX_COMPLETION_WAIT_S * 1000) throw completionWaitLimit();
    if (!Array.isArray(items) || items.length === 0) throw new ValidationError([{ path: 'items', message: 'give 1 to 100 items' }]);
    if (items.length > MAX_SYNC_ITEMS)
      throw new ValidationError([{ path: 'items', message: `at most ${MAX_SYNC_ITEMS} items here; send larger sets to POST /v1/batches` }]);
    const withIds = items.map((item, i) =>
      typeof item === 'object' && item !== null && !('id' in item) ? { ...item, id: String(i) } : item,
    );
    const submitted = await this.submit(tenantId, { items: 'json', body: { ...rest, operation, mode: 'realtime', items: withIds } });
    if (!submitted.batch) throw new ValidationError([{ path: 'dry_run', message: 'a completion runs now' }]);
    const id = submitted.batch.id;
    const done = this.temporal.workflow.getHandle(id).result();
    const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, timeoutMs, 'timeout').unref());
    if ((await Promise.race([done, timer])) === 'timeout') {
      throw new AppError(
        504,
        'timeout',
        `the items did not finish within ${timeoutMs / 1000} s; batch ${id} goes on, fetch its results later`,
      );
    }
    const results: ResultView[] = [];
    const synthetic = (await this.load(tenantId, id)).synthetic ?? false;
    for await (const r of iterateResults(this.db, id)) results.push(resultView(r, synthetic));
    return { object: 'completion', batch_id: id, results };
  }

  async get(tenantId: string, id: string): Promise<BatchView> {
    let row = await this.load(tenantId, id);
    let [live, reruns] = await Promise.all([this.live(row), rerunsOf(this.db, tenantId, id)]);
    // The batch ended between the read and the query: the workflow closes the row before it says
    // so, so the row now has the closing counts and the error a view of the ended batch shows.
    if (live && TERMINAL_BATCH_STATUSES.includes(live.status)) {
      row = await this.load(tenantId, id);
      if (TERMINAL_BATCH_STATUSES.includes(row.status)) live = undefined;
    }
    return this.withSample(row, { ...batchView(row, live), reruns });
  }

  /** Sample first: what the sample showed, once it has run. */
  private async withSample(row: BatchRow, view: BatchView): Promise<BatchView> {
    if (!row.settings.sample) return view;
    const sample = await findSample(this.db, row.id);
    return sample ? { ...view, sample: sampleView(sample) } : view;
  }

  /** Sample first: runs the rest of the batch; a 409 unless the batch awaits approval (the update's validator says so). */
  async approve(tenantId: string, id: string): Promise<BatchView> {
    return this.decide(tenantId, id, 'be approved', () => this.temporal.workflow.getHandle(id).executeUpdate(approveUpdate));
  }

  /** Sample first: ends the batch without running the rest; `reason` goes into its error. */
  async reject(tenantId: string, id: string, reason?: string): Promise<BatchView> {
    return this.decide(tenantId, id, 'be rejected', () =>
      this.temporal.workflow.getHandle(id).executeUpdate(rejectUpdate, { args: [reason ? { reason } : {}] }),
    );
  }

  private async decide(tenantId: string, id: string, what: string, update: () => Promise<BatchProgress>): Promise<BatchView> {
    const row = await this.loadActive(tenantId, id, what);
    try {
      return await this.withSample(row, batchView(row, await update()));
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const reason = (err.cause as Error | undefined)?.message ?? err.message;
        throw new AppError(409, 'not_awaiting_approval', reason);
      }
      throw this.endedOr(err, row, what);
    }
  }

  /**
   * A new batch of an ended batch's items with the chosen outcomes (failed by default), with its
   * settings unless the request gives others; the items are copied inside PostgreSQL. The new
   * batch names the old (`rerun_of`), and the old lists it (`reruns`).
   */
  async rerun(tenantId: string, id: string, request: RerunRequest): Promise<Submitted> {
    const old = await this.load(tenantId, id);
    if (!TERMINAL_BATCH_STATUSES.includes(old.status)) throw new BatchNotEndedError(id, old.status);
    const { status: statuses, ...overrides } = request;
    const draft = draftFromSettings(rerunSettings(old, overrides), await this.intake());
    const key = draft.settings.idempotency_key;
    if (key) {
      const existing = await findBatchByIdempotencyKey(this.db, tenantId, key);
      if (existing) return this.replay(existing);
    }
    await this.quotas.admitBatch(tenantId);
    const created = await inTransaction(this.db, async (tx) => {
      const row = await insertBatch(tx, { ...newBatch(tenantId, draft, 0, null), rerun_of: old.id });
      if (!row) return null;
      const copied = await copyItemsForRerun(tx, tenantId, old.id, row.id, statuses);
      if (copied === 0) throw new NothingToRerunError(id, statuses);
      await setItemCount(tx, row.id, copied, null);
      return { ...row, item_count: copied };
    });
    if (!created) {
      const existing = key ? await findBatchByIdempotencyKey(this.db, tenantId, key) : null;
      if (!existing) throw new Error('idempotency conflict without an existing batch');
      return this.replay(existing);
    }
    await this.start(created);
    return { batch: withSecret(batchView(created), created), replayed: false };
  }

  /** Forgets every answer in a tenant's result cache (admin). */
  async purgeCache(tenant: string): Promise<CachePurge> {
    return { object: 'cache_purge', tenant, deleted: await purgeTenantCache(this.db, tenant) };
  }

  /** Batches newest first, through Temporal visibility (status is its search attribute). */
  async list(tenantId: string, q: ListQuery): Promise<BatchList> {
    // The tenant clause is always there and every clause is ANDed: no filter can widen it.
    const clauses: Clause[] = [
      { attribute: 'WorkflowType', op: '=', value: 'processBatchWorkflow' },
      { attribute: DroverTenant.name, op: '=', value: tenantId },
    ];
    if (q.status) clauses.push({ attribute: DroverStatus.name, op: '=', value: q.status });
    if (q.model) clauses.push({ attribute: DroverModel.name, op: '=', value: q.model });
    if (q.created_after) clauses.push({ attribute: 'StartTime', op: '>', value: q.created_after });
    const query = visibilityQuery(clauses);
    const page = await this.temporal.workflowService.listWorkflowExecutions({
      namespace: this.temporal.options.namespace,
      query,
      pageSize: q.limit,
      ...(q.cursor ? { nextPageToken: openCursor(q.cursor, query) } : {}),
    });
    // A batch that continued as new is listed once per run; keep its newest.
    const ids = [...new Set((page.executions ?? []).map((e) => e.execution?.workflowId).filter((id): id is string => !!id))];
    const statusById = new Map<string, BatchStatus>();
    for (const e of page.executions ?? []) {
      const raw = e.searchAttributes?.indexedFields?.[DroverStatus.name]?.data;
      const id = e.execution?.workflowId;
      // Anyone with access to the namespace can set a search attribute; only a known status counts.
      const status = raw ? BatchStatus.safeParse(JSON.parse(Buffer.from(raw).toString())) : undefined;
      if (status?.success && id && !statusById.has(id)) statusById.set(id, status.data);
    }
    const rows = new Map((await batchesByIds(this.db, tenantId, ids)).map((r) => [r.id, r]));
    // A running batch is shown with the same live figures as GET /v1/batches/:id, asked side by side.
    const views = await Promise.all(
      ids.map(async (id) => {
        const row = rows.get(id);
        if (!row) return null;
        const live = await this.live(row);
        const view = batchView(row, live);
        const status = statusById.get(id);
        return TERMINAL_BATCH_STATUSES.includes(row.status) || live || !status ? view : { ...view, status };
      }),
    );
    const data = views.filter((v): v is BatchView => v !== null);
    const token = page.nextPageToken && page.nextPageToken.length > 0 ? sealCursor(page.nextPageToken, query) : null;
    return { object: 'list', data, next_cursor: token };
  }

  async cancel(tenantId: string, id: string): Promise<BatchView> {
    return this.control(tenantId, id, 'be cancelled', cancelUpdate);
  }

  async pause(tenantId: string, id: string): Promise<BatchView> {
    return this.control(tenantId, id, 'be paused', pauseUpdate);
  }

  async resume(tenantId: string, id: string): Promise<BatchView> {
    return this.control(tenantId, id, 'be resumed', resumeUpdate);
  }

  /** Runs the workflow's setLimits update; its validator's refusal comes back as a 400 with the reason. */
  async setLimits(tenantId: string, id: string, patch: LimitsPatch): Promise<BatchView> {
    const row = await this.loadActive(tenantId, id, 'change its limits');
    try {
      const progress = await this.temporal.workflow.getHandle(id).executeUpdate(setLimitsUpdate, { args: [patch] });
      await setLimits(this.db, id, {
        max_cost_usd: progress.cost.limitUsd,
        deadline: progress.deadlineMs === null ? null : new Date(progress.deadlineMs),
      });
      this.liveFigures.set(id, progress);
      return batchView({ ...row, max_cost_usd: progress.cost.limitUsd }, progress);
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const reason = (err.cause as Error | undefined)?.message ?? err.message;
        throw new AppError(400, 'invalid_limits', reason);
      }
      throw this.endedOr(err, row, 'change its limits');
    }
  }

  async results(
    tenantId: string,
    id: string,
    q: { status?: ResultStatus | undefined; offset: number; limit: number; sample?: boolean | undefined },
  ): Promise<ResultPage> {
    const synthetic = (await this.load(tenantId, id)).synthetic ?? false;
    const page = q.sample ? await sampleResultPage(this.db, id, q) : await resultPage(this.db, id, q);
    return { object: 'list', data: page.rows.map((r) => resultView(r, synthetic)), offset: q.offset, limit: q.limit, total: page.total };
  }

  async streamResults(tenantId: string, id: string, status?: ResultStatus): Promise<AsyncGenerator<ResultRow>> {
    await this.load(tenantId, id);
    return iterateResults(this.db, id, status);
  }

  /** Items finished after the cursor, for the event stream. */
  async itemChanges(tenantId: string, id: string, after: { at: string; seq: number }, settled: boolean) {
    await this.load(tenantId, id);
    return resultChanges(this.db, id, after, settled);
  }

  /** What shapes an export: a CSV's output columns (the leaves of the batch's JSON schema, if it has one), and whether it is synthetic. */
  async exportShape(tenantId: string, id: string): Promise<ExportShape> {
    const row = await this.load(tenantId, id);
    return {
      outputColumns: outputColumnsOf(row.spec.response_format?.type === 'json_schema' ? row.spec.response_format.json_schema.schema : null),
      synthetic: row.synthetic ?? false,
    };
  }

  async item(tenantId: string, id: string, itemId: string): Promise<ResultView> {
    const batch = await this.load(tenantId, id);
    const row = await resultForItem(this.db, id, itemId);
    if (!row) throw new NotFoundError(`item ${itemId} in batch ${id}`);
    return resultView(row, batch.synthetic ?? false);
  }

  private async control(tenantId: string, id: string, what: string, update: typeof cancelUpdate): Promise<BatchView> {
    const row = await this.loadActive(tenantId, id, what);
    try {
      const progress = await this.temporal.workflow.getHandle(id).executeUpdate(update);
      this.liveFigures.set(id, progress);
      return batchView(row, progress);
    } catch (err) {
      throw this.endedOr(err, row, what);
    }
  }

  /** The workflow may end between our read of the store and the message: that too is a 409. */
  private endedOr(err: unknown, row: BatchRow, what: string): unknown {
    if (err instanceof WorkflowNotFoundError || (err as { code?: number })?.code === 5)
      return new BatchEndedError(row.id, 'completed', what);
    return err;
  }

  /** The settings intake checks against: a provider no live worker serves is refused (400) before anything is stored. */
  private async intake(): Promise<IntakeContext> {
    const { priceOverrides, allowPrivateWebhooks, limits, resultCacheDefault } = this.config;
    return { priceOverrides, allowPrivateWebhooks, limits, resultCacheDefault, offers: await this.workerOffers.current() };
  }

  private async loadActive(tenantId: string, id: string, what: string): Promise<BatchRow> {
    const row = await this.load(tenantId, id);
    if (TERMINAL_BATCH_STATUSES.includes(row.status)) throw new BatchEndedError(id, row.status, what);
    return row;
  }

  private async load(tenantId: string, id: string): Promise<BatchRow> {
    const row = await findBatch(this.db, tenantId, id);
    if (!row) throw new NotFoundError(`batch ${id}`);
    return row;
  }

  /** Figures of a running batch, read once for all who ask at the same moment (LiveFiguresCache). */
  private async live(row: BatchRow): Promise<LiveFigures | undefined> {
    if (TERMINAL_BATCH_STATUSES.includes(row.status)) return undefined;
    return this.liveFigures.get(row.id, () => this.readLive(row));
  }

  /**
   * Figures from the running workflow. A query needs a live worker, so it gets a short deadline;
   * without an answer the store's counts stand in (the truth once the batch ends).
   */
  private async readLive(row: BatchRow): Promise<LiveFigures> {
    const query = this.temporal.workflow.getHandle(row.id).query(progressQuery);
    const timeout = new Promise<undefined>((resolve) => setTimeout(resolve, QUERY_DEADLINE_MS, undefined).unref());
    const answer = await Promise.race([query.catch(() => undefined), timeout]);
    if (answer) return answer;
    const counts = await countResults(this.db, row.id);
    return {
      status: row.status,
      succeeded: counts.succeeded,
      failed: counts.failed,
      cancelled: counts.cancelled,
      usage: row.usage,
      costUsd: counts.cost_usd,
    };
  }

  /** The batch an idempotency key names, started if a previous request died before starting it; never with its webhook secret. */
  private async replay(row: BatchRow): Promise<Submitted> {
    if (row.status === 'queued') await this.start(row);
    return { batch: batchView(row, await this.live(row)), replayed: true };
  }

  private async started(tenantId: string, stored: Stored, key: string | undefined, requestHash: () => Promise<string>): Promise<Submitted> {
    if ('estimate' in stored && stored.estimate) return { estimate: stored.estimate };
    if (!stored.created) {
      // Lost a race with a concurrent request carrying the same key (the store stopped before
      // reading this body): a replay only if it is the same request, as without the race.
      const existing = key ? await findBatchByIdempotencyKey(this.db, tenantId, key) : null;
      if (!existing) throw new Error('idempotency conflict without an existing batch');
      if (existing.request_hash && existing.request_hash !== (await requestHash())) throw new IdempotencyConflictError(key!, existing.id);
      return this.replay(existing);
    }
    await this.start(stored.batch);
    // What the batch is at its start, so its first pollers do not all wait on its first read.
    const { id, status, usage } = stored.batch;
    this.liveFigures.set(id, { status, succeeded: 0, failed: 0, cancelled: 0, usage, costUsd: 0 });
    const view = withSecret(batchView(stored.batch), stored.batch);
    const warnings = [...budgetWarnings(stored.batch, stored.firstChunkReserveUsd), ...(await this.sampleBudgetWarnings(stored.batch))];
    return { batch: warnings.length > 0 ? { ...view, warnings } : view, replayed: false };
  }

  /** Sample first under a limit its sample's worst case passes: the batch will wait (or stop) before sending it. */
  private async sampleBudgetWarnings(row: BatchRow): Promise<string[]> {
    const size = row.settings.sample?.size;
    if (!size || row.max_cost_usd === null || !row.pricing) return [];
    const { items, inputTokens } = await likelySampleTokens(this.db, row.id, size);
    const cap = outputCap(row.spec);
    const worst = nanosToUsd(estimateCost(inputTokens, items, { typical: cap, max: cap }, row.pricing, false).cost.high_nanos);
    if (worst <= row.max_cost_usd) return [];
    const then = row.on_budget_exhausted === 'stop' ? 'ends budget_exhausted without sending anything' : 'waits in awaiting_budget';
    return [
      `max_cost_usd ${formatUsd(row.max_cost_usd)} is below the worst case of the sample (${formatUsd(worst)}: ${items} items realtime, their prompts and output caps), so the batch ${then} before the sample runs; raise max_cost_usd, or lower sample.size or max_output_tokens`,
    ];
  }

  private async start(row: BatchRow): Promise<void> {
    const limit = row.max_cost_usd === null ? '' : ` · limit $${row.max_cost_usd}`;
    try {
      await this.temporal.workflow.start<typeof processBatchWorkflow>('processBatchWorkflow', {
        taskQueue: this.config.taskQueue,
        workflowId: row.id,
        args: [
          {
            batchId: row.id,
            itemCount: row.item_count,
            maxParallelChunks: row.settings.max_parallel_chunks,
            maxAttempts: row.settings.max_attempts,
            poll: this.config.poll,
            limits: {
              maxCostUsd: row.max_cost_usd,
              deadlineMs: row.deadline?.getTime() ?? null,
              onBudgetExhausted: row.on_budget_exhausted,
            },
            ...(row.webhook_url ? { webhook: true } : {}),
            ...((await this.quotas.hasSpendCap(row.tenant_id)) ? { tenantBudget: true } : {}),
            ...(this.config.chunksPerRun ? { chunksPerRun: this.config.chunksPerRun } : {}),
            ...(this.config.reconcileMs ? { reconcileMs: this.config.reconcileMs } : {}),
            ...(row.settings.sample
              ? {
                  sample: {
                    size: row.settings.sample.size,
                    approve: row.settings.sample.approve,
                    minSuccessRate: row.settings.sample.min_success_rate,
                    approvalWindowMs: row.settings.sample.approval_window_seconds * 1000,
                  },
                }
              : {}),
            ...(row.settings.cache === 'use' || row.settings.cache === 'refresh' ? { resultCache: true } : {}),
          },
        ],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: DroverStatus, value: 'queued' },
          { key: DroverModel, value: row.model },
          { key: DroverProvider, value: row.provider },
          { key: DroverTenant, value: row.tenant_id },
          { key: DroverItemCount, value: row.item_count },
          { key: DroverKind, value: 'batch' },
        ],
        staticSummary: `${row.item_count.toLocaleString('en-US')} items · ${row.model}${limit}`.slice(0, 200),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
}

/** The answer to the submit that created the batch, and only that, shows the webhook secret: a replay or GET never does. */
function withSecret(view: BatchView, row: BatchRow): BatchView & { webhook_secret?: string } {
  return row.webhook_secret ? { ...view, webhook_secret: row.webhook_secret } : view;
}

/**
 * A limit below the first chunk's worst case would leave the batch waiting from its first
 * moment: the submit answer says so, with what would let it start.
 */
function budgetWarnings(row: BatchRow, firstChunkReserveUsd: number | undefined): string[] {
  if (row.max_cost_usd === null || firstChunkReserveUsd === undefined || firstChunkReserveUsd <= row.max_cost_usd) return [];
  const then = row.on_budget_exhausted === 'stop' ? 'ends budget_exhausted without sending anything' : 'waits in awaiting_budget';
  return [
    `max_cost_usd ${formatUsd(row.max_cost_usd)} is below the worst case of the first chunk (${formatUsd(firstChunkReserveUsd)}: its prompts and every item's output cap), so the batch ${then} until the limit is raised; raise max_cost_usd, or lower chunk_size or max_output_tokens`,
  ];
}
