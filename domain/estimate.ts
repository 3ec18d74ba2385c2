import { countTokens } from 'gpt-tokenizer/model/gpt-4o';
import { messageText, type ChatMessage, type PromptSpec } from './batch-spec.js';
import { costOf, type Pricing } from './pricing.js';

/**
 * Prompt-token estimates. OpenAI models are counted with their real tokenizer (o200k_base via
 * gpt-tokenizer) plus the chat format's framing; other providers, when they arrive, use the
 * usual approximation of 4 characters per token.
 */
export type TokenCounter = (messages: ChatMessage[]) => number;

const PER_MESSAGE = 4;
const PER_REQUEST = 3;

export function tokenCounterFor(provider: string): { count: TokenCounter; method: string } {
  if (provider === 'openai') {
    // The system prompt repeats on every item: count each distinct text once.
    const memo = new Map<string, number>();
    const tokens = (text: string) => {
      if (text.length < 64) return countTokens(text);
      let n = memo.get(text);
      if (n === undefined) {
        n = countTokens(text);
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

/** When a request sets no `max_output_tokens`, estimates assume this ceiling per item. */
export const DEFAULT_OUTPUT_CEILING = 4096;
/** A typical free-text answer, for the expected figure when there is no schema to size. */
export const TYPICAL_TEXT_OUTPUT = 200;

/** Output tokens per item: `typical` for the expected cost, `max` for the high one and for budgets. */
export function outputTokensPerItem(spec: Pick<PromptSpec, 'response_format' | 'max_output_tokens'>): { typical: number; max: number } {
  const max = spec.max_output_tokens ?? DEFAULT_OUTPUT_CEILING;
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
  cost: { low_usd: number; expected_usd: number; high_usd: number };
}

/**
 * low: the prompts plus one output token each; expected: typical outputs; high: every item
 * writes its ceiling, with prompts counted 10% high. Budgets reserve the high figure, so a
 * limit holds even when outputs run long.
 */
export function estimateCost(
  inputTokens: number,
  items: number,
  out: { typical: number; max: number },
  pricing: Pricing,
  batch = true,
): CostEstimate {
  const at = (input: number, output: number) =>
    costOf({ input_tokens: input, cached_input_tokens: 0, output_tokens: output, reasoning_tokens: 0 }, pricing, batch);
  return {
    input_tokens: inputTokens,
    output_tokens: { typical: out.typical * items, max: out.max * items },
    cost: {
      low_usd: at(inputTokens, items),
      expected_usd: at(inputTokens, out.typical * items),
      high_usd: at(Math.ceil(inputTokens * 1.1), out.max * items),
    },
  };
}

/** Sums estimates of chunks; each chunk is priced by the path its first attempt will take. */
export function sumEstimates(parts: CostEstimate[]): CostEstimate {
  const zero: CostEstimate = { input_tokens: 0, output_tokens: { typical: 0, max: 0 }, cost: { low_usd: 0, expected_usd: 0, high_usd: 0 } };
  return parts.reduce(
    (a, b) => ({
      input_tokens: a.input_tokens + b.input_tokens,
      output_tokens: { typical: a.output_tokens.typical + b.output_tokens.typical, max: a.output_tokens.max + b.output_tokens.max },
      cost: {
        low_usd: a.cost.low_usd + b.cost.low_usd,
        expected_usd: a.cost.expected_usd + b.cost.expected_usd,
        high_usd: a.cost.high_usd + b.cost.high_usd,
      },
    }),
    zero,
  );
}
