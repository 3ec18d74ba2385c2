import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { BatchSettings, BatchSettingsQuery, PromptSpec } from '../domain/batch-spec.js';
import { zodIssues, type Issue } from '../domain/issues.js';
import { ItemValidator, MAX_ISSUES, type PreparedItem } from '../domain/item-validator.js';
import { jsonSchemaProblems } from '../domain/json-schema.js';
import { resolveModel } from '../providers/limits.js';
import { insertBatch, setItemCount, type NewBatch } from '../store/batches.js';
import { inTransaction, type Db } from '../store/db.js';
import { insertItems } from '../store/items.js';
import type { BatchRow } from '../store/rows.js';
import { ValidationError } from './errors.js';

const INSERT_PAGE = 2000;

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
  provider: string;
  spec: PromptSpec;
}

/** Checks everything about a request except its items; throws ValidationError naming each field. */
export function draftFromSettings(raw: unknown, prefix = ''): BatchDraft {
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
  if (issues.length || 'error' in resolved) throw new ValidationError(issues);
  const spec: PromptSpec = { model: resolved.model };
  if (settings.system_prompt !== undefined) spec.system_prompt = settings.system_prompt;
  if (settings.user_prompt_template !== undefined) spec.user_prompt_template = settings.user_prompt_template;
  if (settings.response_format !== undefined) spec.response_format = settings.response_format;
  if (settings.max_output_tokens !== undefined) spec.max_output_tokens = settings.max_output_tokens;
  return { settings, provider: resolved.provider, spec };
}

/** The NDJSON form: settings come as query-string text, so JSON-valued ones are decoded here. */
export function draftFromQuery(query: unknown): BatchDraft {
  const parsed = BatchSettingsQuery.safeParse(query);
  if (!parsed.success) throw new ValidationError(zodIssues(parsed.error));
  const raw: Record<string, unknown> = { ...parsed.data };
  for (const field of ['response_format', 'metadata'] as const) {
    const text = parsed.data[field];
    if (text === undefined) continue;
    try {
      raw[field] = JSON.parse(text);
    } catch {
      throw new ValidationError([{ path: field, message: 'must be JSON in the query string' }]);
    }
  }
  for (const key of Object.keys(raw)) if (raw[key] === undefined) delete raw[key];
  return draftFromSettings(raw);
}

export function newBatch(tenantId: string, draft: BatchDraft, itemCount: number): NewBatch {
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
  };
}

export type Stored = { batch: BatchRow; created: true } | { batch: null; created: false };

/**
 * JSON body: every item is validated before anything is written, then the batch and its items
 * go in one transaction. `created: false` means the idempotency key already names a batch.
 */
export async function storeJsonBatch(db: Db, tenantId: string, body: unknown): Promise<Stored> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError([{ path: '(body)', message: 'the body must be a JSON object (Content-Type: application/json) or NDJSON (application/x-ndjson)' }]);
  }
  // Settings and items are checked separately so one 400 lists the problems of both.
  const { items: rawItems, ...rawSettings } = body as Record<string, unknown>;
  const issues: Issue[] = [];
  let draft: BatchDraft | null = null;
  try {
    draft = draftFromSettings(rawSettings);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    issues.push(...(err.issues ?? []));
  }
  const itemsParsed = ItemList.safeParse(rawItems);
  if (!itemsParsed.success) issues.push(...zodIssues(itemsParsed.error, 'items'));
  const validator = new ItemValidator(draft?.settings ?? templatesOf(rawSettings));
  const items: PreparedItem[] = [];
  (itemsParsed.data ?? []).forEach((raw, index) => {
    const item = validator.accept(raw, { index });
    if (item) items.push(item);
  });
  const all = [...issues, ...validator.issues];
  if (all.length > 0 || !draft) throw new ValidationError(all.slice(0, MAX_ISSUES), issues.length + validator.issueCount);

  return inTransaction(db, async (tx) => {
    const batch = await insertBatch(tx, newBatch(tenantId, draft, items.length));
    if (!batch) return { batch: null, created: false };
    for (let i = 0; i < items.length; i += INSERT_PAGE) await insertItems(tx, tenantId, batch.id, items.slice(i, i + INSERT_PAGE));
    return { batch, created: true };
  });
}

/**
 * NDJSON body, one item per line: read as a stream and written in pages inside one transaction,
 * so a million-line upload never sits in memory. Any problem rolls everything back; reading
 * continues so the 400 lists every bad line (up to a cap), not just the first.
 */
export async function storeNdjsonBatch(db: Db, tenantId: string, draft: BatchDraft, body: Readable): Promise<Stored> {
  return inTransaction(db, async (tx) => {
    const batch = await insertBatch(tx, newBatch(tenantId, draft, 0));
    if (!batch) {
      body.resume();
      return { batch: null, created: false };
    }
    const validator = new ItemValidator(draft.settings);
    let page: PreparedItem[] = [];
    let lineNo = 0;
    for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
      lineNo++;
      if (!line.trim()) continue;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch (err) {
        validator.add({ line: lineNo, path: '(line)', message: `not valid JSON: ${(err as Error).message}` });
        continue;
      }
      const item = validator.accept(raw, { line: lineNo });
      if (!item || validator.issueCount > 0) continue;
      page.push(item);
      if (page.length >= INSERT_PAGE) {
        await insertItems(tx, tenantId, batch.id, page);
        page = [];
      }
    }
    if (validator.count === 0 && validator.issueCount === 0) validator.add({ path: '(body)', message: 'a batch needs at least one item: the body has no lines' });
    if (validator.issueCount > 0) throw new ValidationError(validator.issues, validator.issueCount);
    await insertItems(tx, tenantId, batch.id, page);
    await setItemCount(tx, batch.id, validator.count);
    return { batch: { ...batch, item_count: validator.count }, created: true };
  });
}
