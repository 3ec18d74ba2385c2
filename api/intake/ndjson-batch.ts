import type { Readable } from 'node:stream';
import { totalEstimate } from '../../domain/batch-plan.js';
import type { ItemValidator, PreparedItem } from '../../domain/item-validator.js';
import { splitLines } from '../../domain/lines.js';
import type { BatchEstimate } from '../../domain/responses.js';
import { insertBatch, setItemCount } from '../../store/batches.js';
import { inTransaction, type Db, type Queryable } from '../../store/db.js';
import { insertItems } from '../../store/items.js';
import { ValidationError } from '../errors.js';
import type { BatchDraft } from './batch-draft.js';
import { estimateView, plannerFor, validatorFor } from './estimate.js';
import { INSERT_PAGE, newBatch, type Stored } from './new-batch.js';

/** A request body's lines, numbered from 1. */
export async function* numberedLines(body: Readable): AsyncGenerator<NumberedLine> {
  let lineNo = 0;
  for await (const text of splitLines(body as AsyncIterable<Uint8Array>)) yield { lineNo: ++lineNo, text };
}

export interface NumberedLine {
  lineNo: number;
  text: string;
}

/**
 * Reads NDJSON lines one at a time: the 400 lists every bad line (up to a cap), not just the
 * first, and `onItem` sees each good item while nothing is wrong yet.
 */
async function readNdjson(
  lines: AsyncIterable<NumberedLine>,
  validator: ItemValidator,
  onItem: (item: PreparedItem) => Promise<void> | void,
): Promise<void> {
  for await (const { lineNo, text: line } of lines) {
    if (!line.trim()) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      validator.add({ line: lineNo, path: '(line)', message: `not valid JSON: ${(err as Error).message}` });
      continue;
    }
    const item = validator.accept(raw, { line: lineNo });
    if (item && validator.issueCount === 0) await onItem(item);
  }
  if (validator.count === 0 && validator.issueCount === 0)
    validator.add({ path: '(body)', message: 'a batch needs at least one item: the body has no lines' });
  if (validator.issueCount > 0) throw new ValidationError(validator.issues, validator.issueCount);
}

/** NDJSON dry run: the same checks and plan, nothing stored. */
export async function estimateNdjsonBatch(draft: BatchDraft, body: AsyncIterable<NumberedLine>): Promise<BatchEstimate> {
  const { validator, method } = validatorFor(draft.settings, draft.provider);
  const planner = plannerFor(draft);
  await readNdjson(body, validator, (item) => planner.add(item));
  return estimateView(draft, planner, method);
}

/**
 * Lines to read, or a way to read them through a given connection: an uploaded file's lines are
 * read inside the transaction that stores the items. Read through a second connection, they
 * would wait forever behind that transaction on the embedded PostgreSQL, whose single session
 * runs one transaction at a time.
 */
export type LineSource = AsyncIterable<NumberedLine> | ((q: Queryable) => AsyncIterable<NumberedLine>);

/**
 * NDJSON body, one item per line: read as a stream and written in pages inside one transaction,
 * so a million-line upload never sits in memory. Any problem rolls everything back.
 */
export async function storeNdjsonBatch(db: Db, tenantId: string, draft: BatchDraft, source: LineSource): Promise<Stored> {
  if (draft.settings.dry_run)
    return { estimate: await estimateNdjsonBatch(draft, typeof source === 'function' ? source(db) : source), created: false, batch: null };
  return inTransaction(db, async (tx) => {
    const body = typeof source === 'function' ? source(tx) : source;
    const batch = await insertBatch(tx, newBatch(tenantId, draft, 0, null));
    if (!batch) return { batch: null, created: false };
    const { validator } = validatorFor(draft.settings, draft.provider);
    const planner = plannerFor(draft);
    let page: PreparedItem[] = [];
    await readNdjson(body, validator, async (item) => {
      planner.add(item);
      page.push(item);
      if (page.length >= INSERT_PAGE) {
        await insertItems(tx, tenantId, batch.id, page);
        page = [];
      }
    });
    await insertItems(tx, tenantId, batch.id, page);
    const chunks = planner.finish();
    const estimated = totalEstimate(chunks).cost.expected_usd;
    await setItemCount(tx, batch.id, validator.count, estimated);
    return {
      batch: { ...batch, item_count: validator.count, estimated_cost_usd: estimated },
      created: true,
      firstChunkReserveUsd: chunks[0]?.estimate.cost.high_usd ?? 0,
    };
  });
}
