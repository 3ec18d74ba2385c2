import { messageText, type ChatMessage, type PromptSpec } from './batch-spec.js';
import type { Nanos } from './money.js';
import { countO200k as countTokens } from './o200k-count.js';
import { usageNanos, type Pricing } from './pricing.js';

/**
 * Prompt-token estimates. OpenAI models are counted with their real tokenizer (o200k_base via
 * gpt-tokenizer) plus the chat format's framing; other providers, when they arrive, use the
 * usual approximation of 4 characters per token.
 */
export type TokenCounter = (messages: ChatMessage[]) => number;

const PER_MESSAGE = 4;
const PER_REQUEST = 3;

/** Runs of letters or of spaces this long go through BPE in slices of this length. */
const RUN_SLICE = 256;
const LONG_RUN = new RegExp(`\\S{${RUN_SLICE},}|\\s{${RUN_SLICE},}`, 'g');

/**
 * BPE merges a pre-token (a run of letters, or of spaces) in time that grows with the square of
 * its length: one 1 MB "word" took about ten minutes. Long runs are counted slice by slice (a
 * token or so more per slice than the truth), so any text is counted in linear time.
 */
export function boundedTokenCount(text: string): number {
  if (text.length < RUN_SLICE) return countTokens(text);
  let total = 0;
  let last = 0;
  for (const m of text.matchAll(LONG_RUN)) {
    total += countTokens(text.slice(last, m.index));
    for (let i = 0; i < m[0].length; i += RUN_SLICE) total += countTokens(m[0].slice(i, i + RUN_SLICE));
    last = m.index + m[0].length;
  }
  return total + (last === 0 ? countTokens(text) : countTokens(text.slice(last)));
}

export function tokenCounterFor(provider: string): { count: TokenCounter; method: string } {
  if (provider === 'openai') {
    // The system prompt repeats on every item: count each distinct text once.
    const memo = new Map<string, number>();
    const tokens = (text: string) => {
      if (text.length < 64) return countTokens(text);
      let n = memo.get(text);
      if (n === undefined) {
        n = boundedTokenCount(text);
        if (memo.size < 16) memo.set(text, n);
      }
      return n;
    };
    return {
      count: (ms) => ms.reduce((sum, m) => sum + tokens(messageText(m)) + mediaTokens(m) + PER_MESSAGE, PER_REQUEST),
      method: 'tokenizer:o200k_base',
    };
  }
  return {
    count: (ms) => ms.reduce((sum, m) => sum + Math.ceil(messageText(m).length / 4) + mediaTokens(m) + PER_MESSAGE, PER_REQUEST),
    method: 'approximation:chars/4',
  };
}

/** Images count as a 1024×1024 image does at OpenAI's high detail; PDFs as ~2,000 tokens a page. */
export const IMAGE_TOKENS = 765;
export const PDF_PAGE_TOKENS = 2000;

function mediaTokens(m: ChatMessage): number {
  if (typeof m.content === 'string') return 0;
  let n = 0;
  for (const p of m.content) {
    if (p.type === 'image') n += IMAGE_TOKENS;
    else if (p.type === 'document' && p.media_type === 'application/pdf') n += PDF_PAGE_TOKENS * (p.data ? pdfPages(p.data) : 1);
  }
  return n;
}

/** Page objects in a PDF, counted without parsing it: good enough for an estimate. */
function pdfPages(base64: string): number {
  const text = Buffer.from(base64, 'base64').toString('latin1');
  return Math.max(1, (text.match(/\/Type\s*\/Page(?!s)/g) ?? []).length);
}

/** When neither the request nor its schema bounds the answer, each request is capped at this many output tokens. */
export const DEFAULT_OUTPUT_CEILING = 4096;
/** A typical free-text answer, for the expected figure when there is no schema to size. */
export const TYPICAL_TEXT_OUTPUT = 200;
/** Room beside a schema's bound for what a model may add around the JSON (a trailing newline, an extra space). */
const BOUNDED_SLACK_TOKENS = 16;

type OutputSpec = Pick<PromptSpec, 'response_format' | 'max_output_tokens'> & { model?: string };

/**
 * The output cap sent with every request, and what budgets reserve per item: `max_output_tokens`
 * when given; else the most a schema with a bounded answer can take (a `classify` answer is a few
 * dozen tokens, so a budget is not held hostage by a 4,096-token worst case); else the ceiling.
 * Models that think before answering spend their thinking from the same allowance, so for them a
 * schema's bound would cut the answer off: they keep the ceiling unless the request sets a cap.
 */
export function outputCap(spec: OutputSpec): number {
  if (spec.max_output_tokens) return spec.max_output_tokens;
  if (spec.response_format?.type !== 'json_schema' || (spec.model !== undefined && thinksByDefault(spec.model)))
    return DEFAULT_OUTPUT_CEILING;
  const bytes = boundedJsonBytes(spec.response_format.json_schema.schema);
  return bytes === null ? DEFAULT_OUTPUT_CEILING : Math.min(bytes + BOUNDED_SLACK_TOKENS, DEFAULT_OUTPUT_CEILING);
}

/** Models whose output allowance also pays for hidden reasoning unless told otherwise. */
export function thinksByDefault(model: string): boolean {
  const id = model.toLowerCase().replace(/^.*\//, '');
  return /^(o\d|gpt-5|gpt-oss|gemini-(2\.5|[3-9])|deepseek-r|qwq|.*(reason|think))/.test(id);
}

/**
 * The most bytes a JSON answer to `schema` can take, pretty-printed, or null when the schema lets
 * it grow without bound (a free string, an array without `maxItems`). Every tokenizer Drover
 * meets spends at least one byte per token, so bytes bound tokens.
 */
export function boundedJsonBytes(schema: unknown, depth = 0): number | null {
  if (depth > 16 || typeof schema !== 'object' || schema === null) return null;
  const s = schema as Record<string, unknown>;
  // Pretty-printing puts each value on its own line, indented by its depth.
  const layout = 2 + 2 * depth;
  if (Array.isArray(s.enum)) return Math.max(...s.enum.map((v) => Buffer.byteLength(JSON.stringify(v) ?? 'null')), 4);
  if (s.const !== undefined) return Buffer.byteLength(JSON.stringify(s.const) ?? 'null');
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[key])) {
      let most = 0;
      for (const option of s[key] as unknown[]) {
        const b = boundedJsonBytes(option, depth);
        if (b === null) return null;
        most = Math.max(most, b);
      }
      return most;
    }
  }
  const types = Array.isArray(s.type) ? s.type : [s.type];
  let most = 0;
  for (const type of types) {
    let b: number | null;
    switch (type) {
      case 'null':
        b = 4;
        break;
      case 'boolean':
        b = 5;
        break;
      case 'integer':
      case 'number':
        // The longest number JSON.stringify writes, e.g. -1.2345678901234567e-308.
        b = 24;
        break;
      case 'string':
        // A character can take up to six bytes escaped (\uXXXX), and a tokenizer may split it.
        b = typeof s.maxLength === 'number' ? 2 + 6 * s.maxLength : null;
        break;
      case 'array': {
        const item = boundedJsonBytes(s.items, depth + 1);
        // Items of a closed set repeat only in error; the set's size bounds a sensible answer.
        const enumItems = typeof s.items === 'object' && s.items !== null && Array.isArray((s.items as { enum?: unknown[] }).enum);
        const count = typeof s.maxItems === 'number' ? s.maxItems : enumItems ? (s.items as { enum: unknown[] }).enum.length : null;
        b = item === null || count === null ? null : 2 + layout + count * (item + 2 + layout);
        break;
      }
      case 'object':
      case undefined: {
        if (type === undefined && !s.properties) return null;
        // Properties the schema does not list could be anything.
        if (s.additionalProperties !== false) return null;
        let sum = 2 + layout;
        for (const [key, value] of Object.entries((s.properties as Record<string, unknown>) ?? {})) {
          const v = boundedJsonBytes(value, depth + 1);
          if (v === null) return null;
          sum += Buffer.byteLength(JSON.stringify(key)) + 3 + layout + v;
        }
        b = sum;
        break;
      }
      default:
        return null;
    }
    if (b === null) return null;
    most = Math.max(most, b);
  }
  return most;
}

/** Output tokens per item: `typical` for the expected cost, `max` (the cap each request carries) for the high one and for budgets. */
export function outputTokensPerItem(spec: OutputSpec): { typical: number; max: number } {
  const max = outputCap(spec);
  const typical =
    spec.response_format?.type === 'json_schema' ? schemaOutputTokens(spec.response_format.json_schema.schema) : TYPICAL_TEXT_OUTPUT;
  return { typical: Math.min(typical, max), max };
}

/** A rough size of one JSON answer: a few tokens per key and value, arrays of three. */
export function schemaOutputTokens(schema: unknown, depth = 0): number {
  if (depth > 8 || typeof schema !== 'object' || schema === null) return 4;
  const s = schema as Record<string, unknown>;
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  if (type === 'object' || s.properties) {
    const props = Object.values((s.properties as Record<string, unknown>) ?? {});
    return 2 + props.reduce<number>((sum, p) => sum + 3 + schemaOutputTokens(p, depth + 1), 0);
  }
  if (type === 'array') return 2 + 3 * schemaOutputTokens(s.items, depth + 1);
  if (type === 'string') return s.enum ? 3 : 12;
  return 3;
}

export interface CostEstimate {
  input_tokens: number;
  output_tokens: { typical: number; max: number };
  /** In nano-dollars (domain/money.ts): chunks' estimates add up exactly. */
  cost: { low_nanos: Nanos; expected_nanos: Nanos; high_nanos: Nanos };
}

/** The shortest prompt prefix the providers cache (OpenAI; Anthropic's Sonnet and Opus); shorter ones are sent at the full rate. */
export const MIN_CACHED_PREFIX_TOKENS = 1024;

/**
 * The tokens of a batch's shared prefix (its system prompt) that a provider's prompt cache may
 * serve: 0 when there is none or it is under the providers' minimum.
 */
export function cacheablePrefixTokens(provider: string, systemPrompt: string | undefined): number {
  if (!systemPrompt) return 0;
  const tokens = tokenCounterFor(provider).count([{ role: 'system', content: systemPrompt }]) - PER_REQUEST;
  return tokens >= MIN_CACHED_PREFIX_TOKENS ? tokens : 0;
}

/**
 * low: the prompts plus one output token each; expected: typical outputs; high: every item
 * writes its ceiling, with prompts counted 10% high. Budgets reserve the high figure, so a
 * limit holds even when outputs run long. With a cacheable shared prefix (`prefixTokens`), low
 * and expected count it written to the prompt cache once and read at the cached rate by every
 * other item; high assumes no cache read and every input token at the dearer of the input and
 * cache-write rates, so a limit holds whatever the cache does.
 */
export function estimateCost(
  inputTokens: number,
  items: number,
  out: { typical: number; max: number },
  pricing: Pricing,
  batch = true,
  prefixTokens = 0,
): CostEstimate {
  const cached = items > 1 ? Math.min(prefixTokens * (items - 1), inputTokens) : 0;
  const written = Math.min(prefixTokens > 0 ? prefixTokens : 0, inputTokens - cached);
  const at = (input: number, output: number) =>
    usageNanos(
      { input_tokens: input, cached_input_tokens: cached, cache_write_input_tokens: written, output_tokens: output, reasoning_tokens: 0 },
      pricing,
      batch,
    );
  const worst = { ...pricing, input_per_mtok: Math.max(pricing.input_per_mtok, pricing.cache_write_input_per_mtok ?? 0) };
  const high = usageNanos(
    { input_tokens: Math.ceil(inputTokens * 1.1), cached_input_tokens: 0, output_tokens: out.max * items, reasoning_tokens: 0 },
    worst,
    batch,
  );
  return {
    input_tokens: inputTokens,
    output_tokens: { typical: out.typical * items, max: out.max * items },
    cost: { low_nanos: at(inputTokens, items), expected_nanos: at(inputTokens, out.typical * items), high_nanos: high },
  };
}

/** Sums estimates of chunks; each chunk is priced by the path its first attempt will take. */
export function sumEstimates(parts: CostEstimate[]): CostEstimate {
  const zero: CostEstimate = {
    input_tokens: 0,
    output_tokens: { typical: 0, max: 0 },
    cost: { low_nanos: 0, expected_nanos: 0, high_nanos: 0 },
  };
  return parts.reduce(
    (a, b) => ({
      input_tokens: a.input_tokens + b.input_tokens,
      output_tokens: { typical: a.output_tokens.typical + b.output_tokens.typical, max: a.output_tokens.max + b.output_tokens.max },
      cost: {
        low_nanos: a.cost.low_nanos + b.cost.low_nanos,
        expected_nanos: a.cost.expected_nanos + b.cost.expected_nanos,
        high_nanos: a.cost.high_nanos + b.cost.high_nanos,
      },
    }),
    zero,
  );
}
