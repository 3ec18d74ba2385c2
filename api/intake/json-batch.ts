import { z } from 'zod';
import { nanosToUsd } from '../../domain/money.js';
import { zodIssues, type Issue } from '../../domain/issues.js';
import { MAX_ISSUES, type PreparedItem } from '../../domain/item-validator.js';
import { totalEstimate, type BatchPlanner } from '../../domain/batch-plan.js';
import type { BatchEstimate } from '../../domain/responses.js';
import { insertBatch } from '../../store/batches.js';
import { inTransaction, type Db } from '../../store/db.js';
import { insertItems } from '../../store/items.js';
import { LimitError, ValidationError } from '../errors.js';
import { draftFromSettings, type BatchDraft, type IntakeContext } from './batch-draft.js';
import { estimateView, itemLimitsFor, plannerFor, validatorFor } from './estimate.js';
import { DEFAULT_INTAKE_LIMITS, tooManyItems } from './limits.js';
import { RequestHasher } from './request-hash.js';
import { INSERT_PAGE, newBatch, type Stored } from './new-batch.js';

const ItemList = z.array(z.unknown(), 'items must be an array of items').min(1, 'a batch needs at least one item');

/** The template fields of settings that failed to parse, so items can still be checked against them. */
function templatesOf(raw: Record<string, unknown>): { system_prompt?: string; user_prompt_template?: string } {
  const pick = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const out: { system_prompt?: string; user_prompt_template?: string } = {};
  const sp = pick(raw.system_prompt);
  const t = pick(raw.user_prompt_template);
  if (sp !== undefined) out.system_prompt = sp;
  if (t !== undefined) out.user_prompt_template = t;
  return out;
}

/** A JSON body, validated whole: settings and items are checked together so one 400 lists both. */
function prepareJson(
  body: unknown,
  ctx: IntakeContext,
): { draft: BatchDraft; items: PreparedItem[]; planner: BatchPlanner; method: string; requestHash: string } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError([
      { path: '(body)', message: 'the body must be a JSON object (Content-Type: application/json) or NDJSON (application/x-ndjson)' },
    ]);
  }
  // NUL and nesting were checked as the request was opened (batch-request.ts openBatch).
  const limits = ctx.limits ?? DEFAULT_INTAKE_LIMITS;
  const { items: rawItems, ...rawSettings } = body as Record<string, unknown>;
  if (Array.isArray(rawItems) && rawItems.length > limits.maxItems) throw tooManyItems(limits.maxItems, { path: 'items', message: '' });
  const issues: Issue[] = [];
  let draft: BatchDraft | null = null;
  try {
    draft = draftFromSettings(rawSettings, ctx);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    issues.push(...(err.issues ?? []));
  }
  const itemsParsed = ItemList.safeParse(rawItems);
  if (!itemsParsed.success) issues.push(...zodIssues(itemsParsed.error, 'items'));
  const { validator, method } = validatorFor(
    draft?.settings ?? templatesOf(rawSettings),
    draft?.provider ?? 'openai',
    itemLimitsFor(draft, ctx),
  );
  const items: PreparedItem[] = [];
  (itemsParsed.data ?? []).forEach((raw, index) => {
    const item = validator.accept(raw, { index });
    if (item) items.push(item);
  });
  if (validator.limitIssue) throw new LimitError(validator.limitIssue.message, [validator.limitIssue]);
  const all = [...issues, ...validator.issues];
  if (all.length > 0 || !draft) throw new ValidationError(all.slice(0, MAX_ISSUES), issues.length + validator.issueCount);
  const planner = plannerFor(draft);
  for (const item of items) planner.add(item);
  const hasher = new RequestHasher(draft.settings);
  for (const raw of itemsParsed.data ?? []) hasher.item(raw);
  return { draft, items, planner, method, requestHash: hasher.digest() };
}

/** The hash a batch made from this body is stored with (see RequestHasher); throws as a submit would for a bad body. */
export function hashJsonBatch(body: unknown, ctx: IntakeContext): string {
  return prepareJson(body, ctx).requestHash;
}

/** Validates, plans and prices a JSON body without storing or starting anything. */
export function estimateJsonBatch(body: unknown, ctx: IntakeContext): BatchEstimate {
  const { draft, planner, method } = prepareJson(body, ctx);
  return estimateView(draft, planner, method);
}

/**
 * JSON body: every item is validated before anything is written, then the batch and its items
 * go in one transaction. `created: false` means the idempotency key already names a batch, or
 * (with `estimate`) that it was a dry run.
 */
export async function storeJsonBatch(db: Db, tenantId: string, body: unknown, ctx: IntakeContext): Promise<Stored> {
  const { draft, items, planner, method, requestHash } = prepareJson(body, ctx);
  if (draft.settings.dry_run) return { estimate: estimateView(draft, planner, method), created: false, batch: null };
  const chunks = planner.finish();
  const estimated = nanosToUsd(totalEstimate(chunks).cost.expected_nanos);
  return inTransaction(db, async (tx) => {
    const batch = await insertBatch(tx, { ...newBatch(tenantId, draft, items.length, estimated), request_hash: requestHash });
    if (!batch) return { batch: null, created: false };
    for (let i = 0; i < items.length; i += INSERT_PAGE) await insertItems(tx, tenantId, batch.id, items.slice(i, i + INSERT_PAGE));
    return { batch, created: true, firstChunkReserveUsd: nanosToUsd(chunks[0]?.estimate.cost.high_nanos ?? 0) };
  });
}
