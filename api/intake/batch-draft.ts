import { BatchSettings, BatchSettingsQuery, type PromptSpec } from '../../domain/batch-spec.js';
import { zodIssues, type Issue } from '../../domain/issues.js';
import { jsonSchemaProblems } from '../../domain/json-schema.js';
import type { Pricing } from '../../domain/pricing.js';
import { resolveModel, type ProviderName } from '../../domain/provider-catalog.js';
import { unservedReason, type ProviderOffer } from '../../domain/provider-offers.js';
import { anyProviderSuggestion, resolvePricing, unpricedModelMessage, type PriceOverrides } from '../../domain/model-prices.js';
import { webhookUrlProblem } from '../../domain/public-address.js';
import { ValidationError } from '../errors.js';
import { checkJson, DEFAULT_INTAKE_LIMITS, type IntakeLimits } from './limits.js';
import { applyOperation } from './operation.js';
import type { CacheMode } from '../../domain/cache-key.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A validated batch request without its items: what both body formats resolve to first. */
export interface BatchDraft {
  settings: BatchSettings;
  provider: ProviderName;
  spec: PromptSpec;
  pricing: Pricing;
  deadline: Date | null;
}

/** What intake needs beyond the request: the operator's price overrides, and what the live workers serve. */
export interface IntakeContext {
  priceOverrides: PriceOverrides;
  /** Empty or absent when no worker has registered: then any provider is accepted and waits for one. */
  offers?: readonly ProviderOffer[];
  /** DROVER_WEBHOOK_ALLOW_PRIVATE: a webhook_url may be plain http and point inside the network. */
  allowPrivateWebhooks?: boolean;
  /** What one request may hold; DEFAULT_INTAKE_LIMITS when absent. */
  limits?: IntakeLimits | undefined;
  /** The `cache` of a request that does not say (DROVER_RESULT_CACHE); `use` when absent. */
  resultCacheDefault?: CacheMode | undefined;
}

/** Checks everything about a request except its items; throws ValidationError naming each field. */
export function draftFromSettings(input: unknown, ctx: IntakeContext, prefix = ''): BatchDraft {
  const { settings: raw, issues: operationIssues } = isRecord(input) ? applyOperation(input) : { settings: input, issues: [] };
  if (operationIssues.length > 0) throw new ValidationError(operationIssues);
  const parsed = BatchSettings.safeParse(raw);
  if (!parsed.success) throw new ValidationError(zodIssues(parsed.error, prefix));
  const settings = parsed.data;
  settings.cache ??= ctx.resultCacheDefault ?? 'use';
  const issues: Issue[] = [];
  const resolved = resolveModel(settings.model);
  if ('error' in resolved) issues.push({ path: 'model', message: resolved.error + anyProviderSuggestion(settings.model) });
  else {
    const unserved = unservedReason(ctx.offers ?? [], resolved.provider, resolved.model, settings.mode);
    if (unserved) issues.push(unserved);
  }
  if (settings.response_format?.type === 'json_schema') {
    for (const problem of jsonSchemaProblems(settings.response_format.json_schema.schema)) {
      issues.push({ path: 'response_format.json_schema.schema', message: `not a valid JSON Schema: ${problem}` });
    }
  }
  const webhookProblem = settings.webhook_url && webhookUrlProblem(settings.webhook_url, { allowPrivate: !!ctx.allowPrivateWebhooks });
  if (webhookProblem) issues.push({ path: 'webhook_url', message: webhookProblem });
  let deadline: Date | null = null;
  if (settings.deadline && settings.time_limit_seconds)
    issues.push({ path: 'deadline', message: 'give deadline or time_limit_seconds, not both' });
  else if (settings.deadline) deadline = new Date(settings.deadline);
  else if (settings.time_limit_seconds) deadline = new Date(Date.now() + settings.time_limit_seconds * 1000);
  if (settings.deadline && deadline && deadline.getTime() <= Date.now())
    issues.push({ path: 'deadline', message: `${settings.deadline} is in the past` });
  let pricing: Pricing | null = null;
  if (!('error' in resolved)) {
    pricing = resolvePricing(resolved.provider, resolved.model, settings.prices, ctx.priceOverrides);
    if (!pricing) {
      issues.push({ path: 'model', message: unpricedModelMessage(resolved.provider, resolved.model, ctx.priceOverrides) });
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
  // JSON-valued settings (a schema, metadata, operation fields) are bounded like a JSON body before anything walks them.
  if (isRecord(input)) {
    for (const [key, value] of Object.entries(input)) {
      if (typeof value !== 'string' || !/^\s*[[{]/.test(value)) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        continue;
      }
      checkJson(parsed, ctx.limits ?? DEFAULT_INTAKE_LIMITS, key);
    }
  }
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
