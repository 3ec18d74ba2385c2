import type { Readable } from 'node:stream';
import { nanosToUsd } from '../../domain/money.js';
import { totalEstimate } from '../../domain/batch-plan.js';
import type { ItemValidator, PreparedItem } from '../../domain/item-validator.js';
import { splitLines } from '../../domain/lines.js';
import type { BatchEstimate } from '../../domain/responses.js';
import { insertBatch, setItemCount } from '../../store/batches.js';
import { inTransaction, type Db, type Queryable } from '../../store/db.js';
import { copyItemPages, copyItems } from '../../store/items.js';
import { inspectJson, jsonProblemMessage } from '../../domain/json-inspect.js';
import { InvalidUtf8Error, utf8Checked } from '../../domain/utf8.js';
import { LimitError, ValidationError } from '../errors.js';
import type { BatchDraft, IntakeContext } from './batch-draft.js';
import { estimateView, itemLimitsFor, plannerFor, validatorFor } from './estimate.js';
import { byteLimited, checkJson, DEFAULT_INTAKE_LIMITS, tooManyItems, type IntakeLimits } from './limits.js';
import { RequestHasher } from './request-hash.js';
import { INSERT_PAGE, newBatch, type Stored } from './new-batch.js';

/**
 * A request body's lines, numbered from 1: refused (413) past the byte limit, and at the first
 * byte that is not UTF-8 (InvalidUtf8Error, which readNdjson reports with its line).
 */
export async function* numberedLines(body: Readable, limits: IntakeLimits = DEFAULT_INTAKE_LIMITS): AsyncGenerator<NumberedLine> {
  let lineNo = 0;
  const bytes = byteLimited(
    body as AsyncIterable<Uint8Array>,
    limits.maxStreamBytes,
    'NDJSON body',
    'split the items into several batches',
  );
  for await (const text of splitLines(utf8Checked(bytes))) yield { lineNo: ++lineNo, text };
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
  limits: IntakeLimits,
  onItem: (item: PreparedItem) => Promise<void> | void,
  hasher?: RequestHasher,
): Promise<void> {
  try {
    for await (const { lineNo, text: line } of lines) {
      if (!line.trim()) continue;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch (err) {
        validator.add({ line: lineNo, path: '(line)', message: `not valid JSON: ${(err as Error).message}` });
        continue;
      }
      const problem = inspectJson(raw, limits.maxJsonDepth);
      if (problem?.kind === 'depth') checkJson(raw, limits, '', lineNo);
      if (problem) {
        validator.add({ line: lineNo, path: problem.path, message: jsonProblemMessage(problem, limits.maxJsonDepth) });
        continue;
      }
      if (validator.count >= limits.maxItems) throw tooManyItems(limits.maxItems, { path: '(line)', line: lineNo, message: '' });
      hasher?.item(raw);
      const item = validator.accept(raw, { line: lineNo });
      if (validator.limitIssue) throw new LimitError(validator.limitIssue.message, [validator.limitIssue]);
      if (item && validator.issueCount === 0) {
        // Most items are taken at once; only a store that is behind hands back a promise.
        const wait = onItem(item);
        if (wait) await wait;
      }
    }
  } catch (err) {
    if (!(err instanceof InvalidUtf8Error)) throw err;
    validator.add({ line: err.line, path: '(line)', message: `not valid UTF-8 at byte ${err.byte} of the body: send UTF-8 text` });
  }
  if (validator.count === 0 && validator.issueCount === 0)
    validator.add({ path: '(body)', message: 'a batch needs at least one item: the body has no lines' });
  if (validator.issueCount > 0) throw new ValidationError(validator.issues, validator.issueCount);
}

/** NDJSON dry run: the same checks and plan, nothing stored. */
export async function estimateNdjsonBatch(
  draft: BatchDraft,
  body: AsyncIterable<NumberedLine>,
  ctx: Pick<IntakeContext, 'limits'> = {},
): Promise<BatchEstimate> {
  const { validator, method } = validatorFor(draft.settings, draft.provider, itemLimitsFor(draft, ctx));
  const planner = plannerFor(draft);
  await readNdjson(body, validator, ctx.limits ?? DEFAULT_INTAKE_LIMITS, (item) => planner.add(item));
  return estimateView(draft, planner, method);
}

/** The hash a batch made from these lines is stored with (see RequestHasher); the items are read, not checked. */
export async function hashNdjsonBatch(
  draft: BatchDraft,
  body: AsyncIterable<NumberedLine>,
  ctx: Pick<IntakeContext, 'limits'>,
): Promise<string> {
  const limits = ctx.limits ?? DEFAULT_INTAKE_LIMITS;
  const hasher = new RequestHasher(draft.settings);
  for await (const { lineNo, text } of body) {
    if (!text.trim()) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      raw = text;
    }
    checkJson(raw, limits, '', lineNo);
    hasher.item(raw);
  }
  return hasher.digest();
}

/**
 * Lines to read, or a way to read them through a given connection: an uploaded file's lines are
 * read inside the transaction that stores the items. Read through a second connection, they
 * would wait forever behind that transaction on the embedded PostgreSQL, whose single session
 * runs one transaction at a time.
 */
export type LineSource = AsyncIterable<NumberedLine> | ((q: Queryable) => AsyncIterable<NumberedLine>);

/**
 * NDJSON body, one item per line: read as a stream and copied into PostgreSQL (COPY) inside one
 * transaction as it is read, so a million-line upload never sits in memory. Any problem (a bad
 * line, a limit, a body cut off) aborts the COPY and rolls everything back.
 */
export async function storeNdjsonBatch(
  db: Db,
  tenantId: string,
  draft: BatchDraft,
  source: LineSource,
  ctx: Pick<IntakeContext, 'limits'> = {},
): Promise<Stored> {
  if (draft.settings.dry_run)
    return {
      estimate: await estimateNdjsonBatch(draft, typeof source === 'function' ? source(db) : source, ctx),
      created: false,
      batch: null,
    };
  return inTransaction(db, async (tx) => {
    const fromFile = typeof source === 'function';
    const body = fromFile ? source(tx) : source;
    const batch = await insertBatch(tx, newBatch(tenantId, draft, 0, null));
    if (!batch) return { batch: null, created: false };
    const { validator } = validatorFor(draft.settings, draft.provider, itemLimitsFor(draft, ctx));
    const planner = plannerFor(draft);
    const hasher = new RequestHasher(draft.settings);
    // A file's lines are read through this connection, which a COPY holds while it runs: pages of COPY then.
    const sink = fromFile ? copyItemPages(tx, tenantId, batch.id, INSERT_PAGE) : copyItems(tx, tenantId, batch.id);
    try {
      await readNdjson(
        body,
        validator,
        ctx.limits ?? DEFAULT_INTAKE_LIMITS,
        (item) => {
          planner.add(item);
          return sink.write(item);
        },
        hasher,
      );
      await sink.end();
    } catch (err) {
      await sink.abort(err as Error);
      throw err;
    }
    const chunks = planner.finish();
    const estimated = nanosToUsd(totalEstimate(chunks).cost.expected_nanos);
    await setItemCount(tx, batch.id, validator.count, estimated, hasher.digest());
    return {
      batch: { ...batch, item_count: validator.count, estimated_cost_usd: estimated },
      created: true,
      firstChunkReserveUsd: nanosToUsd(chunks[0]?.estimate.cost.high_nanos ?? 0),
    };
  });
}
