import type { Readable } from 'node:stream';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { findBatch, findBatchByIdempotencyKey } from '../store/batches.js';
import type { Db } from '../store/db.js';
import { countResults, iterateResults, resultPage, resultForItem } from '../store/results.js';
import { TERMINAL_STATUSES, type BatchRow, type ResultRow, type ResultStatus } from '../store/rows.js';
import type { PollPolicy } from '../workflows/contracts.js';
import { progressQuery } from '../workflows/definitions.js';
import type { processBatchWorkflow } from '../workflows/process-batch.js';
import { DroverItemCount, DroverModel, DroverProvider, DroverStatus, DroverTenant } from '../workflows/search-attributes.js';
import { storeJsonBatch, storeNdjsonBatch, type BatchDraft, type Stored } from './batch-intake.js';
import { NotFoundError } from './errors.js';
import { batchView, type BatchView, type LiveFigures } from './views.js';

const QUERY_DEADLINE_MS = 3000;

export interface BatchServiceConfig {
  taskQueue: string;
  poll: PollPolicy;
  chunksPerRun?: number | undefined;
}

export interface Submitted {
  batch: BatchView;
  /** true when the idempotency key named an existing batch and nothing new was created. */
  replayed: boolean;
}

/** Everything the batch routes do, behind one object the HTTP layer calls. */
export class BatchService {
  constructor(
    private readonly db: Db,
    private readonly temporal: Client,
    private readonly config: BatchServiceConfig,
  ) {}

  async submitJson(tenantId: string, body: unknown): Promise<Submitted> {
    const raw = (body as { idempotency_key?: unknown } | null)?.idempotency_key;
    const key = typeof raw === 'string' ? raw : undefined;
    if (key) {
      const existing = await this.replay(tenantId, key);
      if (existing) return existing;
    }
    return this.started(tenantId, await storeJsonBatch(this.db, tenantId, body), key);
  }

  async submitNdjson(tenantId: string, draft: BatchDraft, body: Readable): Promise<Submitted> {
    const key = draft.settings.idempotency_key;
    if (key) {
      const existing = await this.replay(tenantId, key);
      if (existing) {
        body.resume();
        return existing;
      }
    }
    return this.started(tenantId, await storeNdjsonBatch(this.db, tenantId, draft, body), key);
  }

  async get(tenantId: string, id: string): Promise<BatchView> {
    const row = await this.load(tenantId, id);
    return batchView(row, await this.live(row));
  }

  async results(tenantId: string, id: string, q: { status?: ResultStatus; offset: number; limit: number }) {
    await this.load(tenantId, id);
    return resultPage(this.db, id, q);
  }

  async streamResults(tenantId: string, id: string, status?: ResultStatus): Promise<AsyncGenerator<ResultRow>> {
    await this.load(tenantId, id);
    return iterateResults(this.db, id, status);
  }

  async item(tenantId: string, id: string, itemId: string): Promise<ResultRow> {
    await this.load(tenantId, id);
    const row = await resultForItem(this.db, id, itemId);
    if (!row) throw new NotFoundError(`item ${itemId} in batch ${id}`);
    return row;
  }

  private async load(tenantId: string, id: string): Promise<BatchRow> {
    const row = await findBatch(this.db, tenantId, id);
    if (!row) throw new NotFoundError(`batch ${id}`);
    return row;
  }

  /**
   * Counts from the running workflow. A query needs a live worker, so it gets a short deadline;
   * without an answer the store's counts stand in (the truth once the batch ends).
   */
  private async live(row: BatchRow): Promise<LiveFigures | undefined> {
    if (TERMINAL_STATUSES.includes(row.status)) return undefined;
    const query = this.temporal.workflow.getHandle(row.id).query(progressQuery);
    const timeout = new Promise<undefined>((resolve) => setTimeout(resolve, QUERY_DEADLINE_MS, undefined).unref());
    const answer = await Promise.race([query.catch(() => undefined), timeout]);
    if (answer) return answer;
    const counts = await countResults(this.db, row.id);
    return { status: row.status, succeeded: counts.succeeded, failed: counts.failed, usage: row.usage };
  }

  private async replay(tenantId: string, key: string): Promise<Submitted | null> {
    const row = await findBatchByIdempotencyKey(this.db, tenantId, key);
    if (!row) return null;
    // A previous request may have stored the batch and died before starting it.
    if (row.status === 'queued') await this.start(row);
    return { batch: batchView(row, await this.live(row)), replayed: true };
  }

  private async started(tenantId: string, stored: Stored, key: string | undefined): Promise<Submitted> {
    if (!stored.created) {
      // Lost a race with a concurrent request carrying the same key.
      const existing = key ? await this.replay(tenantId, key) : null;
      if (!existing) throw new Error('idempotency conflict without an existing batch');
      return existing;
    }
    await this.start(stored.batch);
    return { batch: batchView(stored.batch), replayed: false };
  }

  private async start(row: BatchRow): Promise<void> {
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
            ...(this.config.chunksPerRun ? { chunksPerRun: this.config.chunksPerRun } : {}),
          },
        ],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: DroverStatus, value: 'queued' },
          { key: DroverModel, value: row.model },
          { key: DroverProvider, value: row.provider },
          { key: DroverTenant, value: row.tenant_id },
          { key: DroverItemCount, value: row.item_count },
        ],
        staticSummary: `${row.item_count.toLocaleString('en-US')} items · ${row.model}`.slice(0, 200),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
}
