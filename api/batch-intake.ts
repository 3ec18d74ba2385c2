import { randomBytes, randomUUID } from 'node:crypto';
import { splitLines } from '../domain/lines.js';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { BatchSettings, BatchSettingsQuery, type PromptSpec } from '../domain/batch-spec.js';
import { zodIssues, type Issue } from '../domain/issues.js';
import { ItemValidator, MAX_ISSUES, type PreparedItem } from '../domain/item-validator.js';
import { jsonSchemaProblems } from '../domain/json-schema.js';
import { BatchPlanner, totalEstimate } from '../domain/batch-plan.js';
import { outputTokensPerItem, tokenCounterFor } from '../domain/estimate.js';
import { roundUsd, type Pricing } from '../domain/pricing.js';
import type { BatchEstimate } from '../domain/responses.js';
import { MEDIA_LIMITS, resolveModel, type ProviderName } from '../domain/provider-catalog.js';
import { resolvePricing, type PriceOverrides } from '../domain/model-prices.js';
import { insertBatch, setItemCount, type NewBatch } from '../store/batches.js';
import { inTransaction, type Db, type Queryable } from '../store/db.js';
import { insertItems } from '../store/items.js';
import type { BatchRow } from '../store/rows.js';
import { ValidationError } from './errors.js';
import { applyOperation } from './operation-intake.js';

const INSERT_PAGE = 2000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

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

/** A validated batch request without its items: what both body formats resolve to first. */
export interface BatchDraft {
  settings: BatchSettings;
  provider: ProviderName;
  spec: PromptSpec;
  pricing: Pricing;
  deadline: Date | null;
}

/** What intake needs beyond the request: the operator's price overrides. */
export interface IntakeContext {
  priceOverrides: PriceOverrides;
}

/** Checks everything about a request except its items; throws ValidationError naming each field. */
export function draftFromSettings(input: unknown, ctx: IntakeContext, prefix = ''): BatchDraft {
  const { settings: raw, issues: operationIssues } = isRecord(input) ? applyOperation(input) : { settings: input, issues: [] };
  if (operationIssues.length > 0) throw new ValidationError(operationIssues);
  const parsed = BatchSettings.safeParse(raw);
  if (!parsed.success) throw new ValidationError(zodIssues(parsed.error, prefix));
  const settings = parsed.data;
  const issues: Issue[] = [];
  const resolved = resolveModel(settings.model);
  if ('error' in resolved) issues.push({ path: 'model', message: resolved.error });
  if (settings.response_format?.type === 'json_schema') {
    for (const problem of jsonSchemaProblems(settings.response_format.json_schema.schema)) {
      issues.push({ path: 'response_format.json_schema.schema', message: `not a valid JSON Schema: ${problem}` });
    }
  }
  let deadline: Date | null = null;
  if (settings.deadline && settings.time_limit_seconds) issues.push({ path: 'deadline', message: 'give deadline or time_limit_seconds, not both' });
  else if (settings.deadline) deadline = new Date(settings.deadline);
  else if (settings.time_limit_seconds) deadline = new Date(Date.now() + settings.time_limit_seconds * 1000);
  if (settings.deadline && deadline && deadline.getTime() <= Date.now()) issues.push({ path: 'deadline', message: `${settings.deadline} is in the past` });
  let pricing: Pricing | null = null;
  if (!('error' in resolved)) {
    pricing = resolvePricing(resolved.provider, resolved.model, settings.prices, ctx.priceOverrides);
    if (!pricing) {
      issues.push({
        path: 'model',
        message: `no price is known for ${resolved.provider}/${resolved.model}: give "prices" ({"input_per_mtok", "output_per_mtok"}) or add it to the price override file, so spend is never billed at zero`,
      });
    }
  }
  if (issues.length || 'error' in resolved || !pricing) throw new ValidationError(issues);
  const spec: PromptSpec = { model: resolved.model };
  if (settings.system_prompt !== undefined) spec.system_prompt = settings.system_prompt;
  if (settings.user_prompt_template !== undefined) spec.user_prompt_template = settings.user_prompt_template;
  if (settings.response_format !== undefined) spec.response_format = settings.response_format;
  if (settings.max_output_tokens !== undefined) spec.max_output_tokens = settings.max_output_tokens;
  if (settings.enable_citations) spec.citations = true;
  return { settings, provider: resolved.provider, spec, pricing, deadline };
}

/** The NDJSON form: settings come as query-string text, so JSON-valued ones are decoded here. */
export function draftFromQuery(input: unknown, ctx: IntakeContext): BatchDraft {
  const { settings: query, issues: operationIssues } = isRecord(input) ? applyOperation(input, true) : { settings: input, issues: [] };
  if (operationIssues.length > 0) throw new ValidationError(operationIssues);
  // An operation compiles to structured fields; the query schema takes them as JSON text.
  if (isRecord(query) && typeof query.response_format === 'object') query.response_format = JSON.stringify(query.response_format);
  const parsed = BatchSettingsQuery.safeParse(query);
  if (!parsed.success) throw new ValidationError(zodIssues(parsed.error));
  const raw: Record<string, unknown> = { ...parsed.data };
  for (const field of ['response_format', 'metadata', 'prices'] as const) {
    const text = parsed.data[field];
    if (text === undefined) continue;
    try {
      raw[field] = JSON.parse(text);
    } catch {
      throw new ValidationError([{ path: field, message: 'must be JSON in the query string' }]);
    }
  }
  for (const key of Object.keys(raw)) if (raw[key] === undefined) delete raw[key];
  return draftFromSettings(raw, ctx);
}

/** The plan the worker will run for this request, priced chunk by chunk. */
function plannerFor(draft: BatchDraft): BatchPlanner {
  const { settings } = draft;
  return new BatchPlanner({
    provider: draft.provider,
    spec: draft.spec,
    pricing: draft.pricing,
    mode: settings.mode,
    chunkSize: settings.chunk_size,
    maxAttempts: settings.max_attempts,
  });
}

function validatorFor(settings: Pick<BatchSettings, 'system_prompt' | 'user_prompt_template'>, provider: ProviderName): { validator: ItemValidator; method: string } {
  const counter = tokenCounterFor(provider);
  return { validator: new ItemValidator(settings, counter.count, MEDIA_LIMITS[provider]), method: counter.method };
}

export type { BatchEstimate };

const PLAN_SHOWN = 100;

function estimateView(draft: BatchDraft, planner: BatchPlanner, method: string): BatchEstimate {
  const chunks = planner.finish();
  const e = totalEstimate(chunks);
  return {
    object: 'batch_estimate',
    model: draft.settings.model,
    provider: draft.provider,
    item_count: planner.itemCount,
    chunks: {
      count: chunks.length,
      plan: chunks.slice(0, PLAN_SHOWN).map((c) => ({ index: c.idx, items: c.item_count, bytes: c.bytes, input_tokens: c.est_input_tokens })),
    },
    input_tokens: e.input_tokens,
    input_token_method: method,
    output_tokens: { ...e.output_tokens, per_item_max: outputTokensPerItem(draft.spec).max },
    cost: { low_usd: roundUsd(e.cost.low_usd), expected_usd: roundUsd(e.cost.expected_usd), high_usd: roundUsd(e.cost.high_usd) },
    pricing: draft.pricing,
  };
}

export function newBatch(tenantId: string, draft: BatchDraft, itemCount: number, estimatedCostUsd: number | null): NewBatch {
  const { settings } = draft;
  return {
    id: `batch_${randomUUID().replaceAll('-', '')}`,
    tenant_id: tenantId,
    idempotency_key: settings.idempotency_key ?? null,
    provider: draft.provider,
    model: settings.model,
    spec: draft.spec,
    settings: { chunk_size: settings.chunk_size, max_parallel_chunks: settings.max_parallel_chunks, max_attempts: settings.max_attempts },
    metadata: settings.metadata ?? null,
    item_count: itemCount,
    pricing: draft.pricing,
    max_cost_usd: settings.max_cost_usd ?? null,
    deadline: draft.deadline,
    on_budget_exhausted: settings.on_budget_exhausted,
    estimated_cost_usd: estimatedCostUsd,
    mode: settings.mode,
    webhook_url: settings.webhook_url ?? null,
    // Shown once, in the answer to the submit; deliveries are signed with it.
    webhook_secret: settings.webhook_url ? `whsec_${randomBytes(24).toString('hex')}` : null,
  };
}

export type Stored = { batch: BatchRow; created: true } | { batch: null; created: false } | { estimate: BatchEstimate; created: false; batch: null };

/** A JSON body, validated whole: settings and items are checked together so one 400 lists both. */
function prepareJson(body: unknown, ctx: IntakeContext): { draft: BatchDraft; items: PreparedItem[]; planner: BatchPlanner; method: string } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError([{ path: '(body)', message: 'the body must be a JSON object (Content-Type: application/json) or NDJSON (application/x-ndjson)' }]);
  }
  const { items: rawItems, ...rawSettings } = body as Record<string, unknown>;
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
  const { validator, method } = validatorFor(draft?.settings ?? templatesOf(rawSettings), draft?.provider ?? 'openai');
  const items: PreparedItem[] = [];
  (itemsParsed.data ?? []).forEach((raw, index) => {
    const item = validator.accept(raw, { index });
    if (item) items.push(item);
  });
  const all = [...issues, ...validator.issues];
  if (all.length > 0 || !draft) throw new ValidationError(all.slice(0, MAX_ISSUES), issues.length + validator.issueCount);
  const planner = plannerFor(draft);
  for (const item of items) planner.add(item);
  return { draft, items, planner, method };
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
  const { draft, items, planner, method } = prepareJson(body, ctx);
  if (draft.settings.dry_run) return { estimate: estimateView(draft, planner, method), created: false, batch: null };
  const estimated = totalEstimate(planner.finish()).cost.expected_usd;
  return inTransaction(db, async (tx) => {
    const batch = await insertBatch(tx, newBatch(tenantId, draft, items.length, estimated));
    if (!batch) return { batch: null, created: false };
    for (let i = 0; i < items.length; i += INSERT_PAGE) await insertItems(tx, tenantId, batch.id, items.slice(i, i + INSERT_PAGE));
    return { batch, created: true };
  });
}

/**
 * Reads NDJSON lines one at a time: the 400 lists every bad line (up to a cap), not just the
 * first, and `onItem` sees each good item while nothing is wrong yet.
 */
/** A request body's lines, numbered from 1. */
export async function* numberedLines(body: Readable): AsyncGenerator<NumberedLine> {
  let lineNo = 0;
  for await (const text of splitLines(body as AsyncIterable<Uint8Array>)) yield { lineNo: ++lineNo, text };
}

export interface NumberedLine {
  lineNo: number;
  text: string;
}

async function readNdjson(lines: AsyncIterable<NumberedLine>, validator: ItemValidator, onItem: (item: PreparedItem) => Promise<void> | void): Promise<void> {
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
  if (validator.count === 0 && validator.issueCount === 0) validator.add({ path: '(body)', message: 'a batch needs at least one item: the body has no lines' });
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
  if (draft.settings.dry_run) return { estimate: await estimateNdjsonBatch(draft, typeof source === 'function' ? source(db) : source), created: false, batch: null };
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
    const estimated = totalEstimate(planner.finish()).cost.expected_usd;
    await setItemCount(tx, batch.id, validator.count, estimated);
    return { batch: { ...batch, item_count: validator.count, estimated_cost_usd: estimated }, created: true };
  });
}
