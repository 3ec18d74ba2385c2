/**
 * The emulated model: turns a Chat Completions request body into a ChatCompletion. Used by both
 * `POST /v1/chat/completions` and batch lines, so a request gives the same content either way.
 * Pure apart from the completion id and `created`.
 */
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { badRequest } from '../api-error.js';
import { hashBody, newChatCompletionId, nowSeconds, seededRandom, sha256 } from '../ids.js';
import { isObject, type Json } from '../json.js';
import { hintsFrom } from '../plausible.js';
import { MIN_CACHED_PREFIX_TOKENS, OPENAI_CACHE_STEP, type PromptCache } from '../prompt-cache.js';
import { sampleFromSchema } from '../schema-sample.js';
import { strictSchemaProblem } from './strict-schema.js';

export type ResponseMode = 'text' | 'json_object' | 'json_schema';

export interface ChatRequest {
  model: string;
  messages: Json[];
  mode: ResponseMode;
  schema?: unknown;
  n: number;
  maxTokens?: number;
  /** SHA-256 of the serialised body: the seed for everything deterministic about the answer. */
  hash: string;
}

/**
 * Throws a 400 `ApiError` with OpenAI's wording where the real API rejects the body. `hash` may be
 * passed when the caller already computed it.
 */
export function parseChatRequest(body: unknown, hash: string = hashBody(body)): ChatRequest {
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.');
  if (typeof body.model !== 'string' || body.model === '') {
    throw badRequest('you must provide a model parameter', 'model', 'missing_required_parameter');
  }
  if (body.messages === undefined) {
    throw badRequest("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  }
  if (!Array.isArray(body.messages)) throw badRequest("Invalid type for 'messages': expected an array.", 'messages', 'invalid_type');
  if (body.messages.length === 0)
    throw badRequest(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'messages',
      'empty_array',
    );
  body.messages.forEach((m, i) => {
    if (!isObject(m) || typeof m.role !== 'string') {
      throw badRequest(`Missing required parameter: 'messages[${i}].role'.`, `messages[${i}].role`, 'missing_required_parameter');
    }
  });
  if (body.stream === true) {
    throw badRequest('Streaming is not supported by the Drover emulator; send stream: false.', 'stream', 'unsupported_value');
  }
  const n = body.n === undefined || body.n === null ? 1 : body.n;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 128)
    throw badRequest(`Invalid 'n': ${String(n)}.`, 'n', 'invalid_value');
  const maxTokens = pickMaxTokens(body);
  const messages = body.messages as Json[];
  const base = { model: body.model, messages, n, hash, ...(maxTokens !== undefined ? { maxTokens } : {}) };

  const rf = body.response_format;
  if (rf === undefined || rf === null) return { ...base, mode: 'text' };
  if (!isObject(rf)) throw badRequest("Invalid type for 'response_format': expected an object.", 'response_format', 'invalid_type');
  switch (rf.type) {
    case 'text':
      return { ...base, mode: 'text' };
    case 'json_object':
      if (!messages.some((m) => /json/i.test(messageText(m)))) {
        throw badRequest(
          "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
          'messages',
        );
      }
      return { ...base, mode: 'json_object' };
    case 'json_schema': {
      const js = rf.json_schema;
      if (!isObject(js) || typeof js.name !== 'string') {
        throw badRequest(
          "Missing required parameter: 'response_format.json_schema.name'.",
          'response_format.json_schema.name',
          'missing_required_parameter',
        );
      }
      if (js.strict === true) {
        const problem = cachedStrictSchemaProblem(js.schema);
        if (problem) {
          throw badRequest(`Invalid schema for response_format '${js.name}': ${problem}`, 'response_format', 'invalid_json_schema');
        }
      }
      return { ...base, mode: 'json_schema', schema: js.schema ?? {} };
    }
    default:
      throw badRequest(
        `Invalid value: '${String(rf.type)}'. Supported values are: 'text', 'json_object', and 'json_schema'.`,
        'response_format.type',
        'invalid_value',
      );
  }
}

/** A batch usually repeats one schema on every line; checking it once per distinct schema is enough. */
const strictChecks = new Map<string, string | null>();
function cachedStrictSchemaProblem(schema: unknown): string | null {
  const key = JSON.stringify(schema) ?? '';
  let problem = strictChecks.get(key);
  if (problem === undefined) {
    problem = strictSchemaProblem(schema);
    if (strictChecks.size >= 1000) strictChecks.clear();
    strictChecks.set(key, problem);
  }
  return problem;
}

function pickMaxTokens(body: Json): number | undefined {
  for (const key of ['max_completion_tokens', 'max_tokens'] as const) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw badRequest(`Invalid '${key}': must be a positive integer.`, key, 'invalid_value');
    return v;
  }
  return undefined;
}

/** Text of a message; array content contributes its text parts only (images carry no characters). */
export function messageText(message: Json): string {
  const c = message.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) {
    return c.map((part) => (isObject(part) && typeof part.text === 'string' ? part.text : '')).join('');
  }
  return '';
}

export interface GenerateOptions {
  /** Cut JSON content in half (still `finish_reason: 'stop'`), the failure a parser must survive. */
  malformed?: boolean;
  /** Prompt tokens read from the prompt cache (`openaiCachedTokens`). */
  cachedTokens?: number;
}

/**
 * OpenAI's automatic prompt caching, emulated: a prompt of at least 1,024 tokens whose stable
 * prefix (the leading system and developer messages, and the response schema) was seen before
 * for this model reports that prefix as cached, in steps of 128 tokens. The prefix's tokens are
 * counted as prompt_tokens counts them.
 */
export function openaiCachedTokens(req: ChatRequest, cache: PromptCache | undefined): number {
  if (!cache || promptTokens(req.messages) < MIN_CACHED_PREFIX_TOKENS) return 0;
  const lead: Json[] = [];
  for (const m of req.messages) {
    if (m.role !== 'system' && m.role !== 'developer') break;
    lead.push(m);
  }
  if (lead.length === 0) return 0;
  const tokens = promptTokens(lead);
  const seen = cache.touch('openai', req.model, JSON.stringify([lead.map(messageText), req.schema ?? null]), tokens);
  return seen === 'read' ? Math.floor(tokens / OPENAI_CACHE_STEP) * OPENAI_CACHE_STEP : 0;
}

/**
 * Token usage is an approximation, documented so tests and cost estimates can predict it:
 *   prompt_tokens     = ceil(total characters of all message text / 4) + 3 per message
 *   completion_tokens = ceil(characters of the returned content / 4), summed over choices
 * (about 4 characters per token for English text; 3 tokens of per-message overhead as in OpenAI's
 * cookbook estimate).
 */
export function promptTokens(messages: readonly Json[]): number {
  let chars = 0;
  for (const m of messages) chars += messageText(m).length;
  return Math.ceil(chars / 4) + 3 * messages.length;
}

export const completionTokens = (content: string): number => Math.ceil(content.length / 4);

export function generateChatCompletion(req: ChatRequest, opts: GenerateOptions = {}): ChatCompletion {
  const choices: ChatCompletion.Choice[] = [];
  let outputTokens = 0;
  for (let index = 0; index < req.n; index++) {
    let content = renderContent(req, index);
    let finish: ChatCompletion.Choice['finish_reason'] = 'stop';
    if (opts.malformed && req.mode !== 'text') content = content.slice(0, Math.max(1, Math.floor(content.length / 2)));
    if (req.maxTokens !== undefined && completionTokens(content) > req.maxTokens) {
      content = content.slice(0, req.maxTokens * 4);
      finish = 'length';
    }
    outputTokens += completionTokens(content);
    choices.push({
      index,
      finish_reason: finish,
      logprobs: null,
      message: { role: 'assistant', content, refusal: null, annotations: [] },
    });
  }
  const prompt = promptTokens(req.messages);
  return {
    id: newChatCompletionId(),
    object: 'chat.completion',
    created: nowSeconds(),
    model: req.model,
    choices,
    usage: {
      prompt_tokens: prompt,
      completion_tokens: outputTokens,
      total_tokens: prompt + outputTokens,
      prompt_tokens_details: { cached_tokens: Math.min(opts.cachedTokens ?? 0, prompt), audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_drover_emulator',
  };
}

function renderContent(req: ChatRequest, choice: number): string {
  const seed = choice === 0 ? req.hash : sha256(`${req.hash}:${choice}`);
  const prompt = lastUserText(req.messages).slice(0, 80);
  switch (req.mode) {
    case 'json_schema':
      return JSON.stringify(sampleFromSchema(req.schema, seededRandom(seed), hintsFrom(lastUserText(req.messages), allText(req.messages))));
    case 'json_object':
      return JSON.stringify({ echo: prompt, digest: seed.slice(0, 12) });
    default:
      return `Echo: ${prompt}`;
  }
}

function allText(messages: readonly Json[]): string {
  return messages.map(messageText).join('\n');
}

function lastUserText(messages: readonly Json[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as Json;
    if (m.role === 'user') return messageText(m);
  }
  return '';
}
