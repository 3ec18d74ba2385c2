/**
 * The emulated Claude: turns a Messages request body into a Message. Used by `POST /v1/messages`
 * and by batch requests, so a request gives the same content either way. Pure apart from ids.
 *
 * What comes back, in order of precedence:
 *   - `tool_choice` naming a tool (or `any`): one `tool_use` block whose `input` conforms to that
 *     tool's `input_schema`, stop_reason `tool_use` (the usual way to get structured output);
 *   - `output_config.format` json_schema: the JSON text in one text block;
 *   - a user `document` with `citations.enabled` and a text source: text blocks, each quoting a
 *     sentence of a document with a `char_location` citation that points at the exact substring;
 *   - otherwise `Echo: ` and the start of the last user text.
 */
import type { ContentBlock, Message, StopReason, TextBlock, TextCitation } from '@anthropic-ai/sdk/resources/messages';
import { badRequest, type ApiError } from '../api-error.js';
import { hashBody, newMessageId, newToolUseId, seededRandom } from '../ids.js';
import { isObject, type Json } from '../json.js';
import { anthropicImageTokens, anthropicPdfTokens } from '../media-tokens.js';
import { hintsFrom } from '../plausible.js';
import { sampleFromSchema } from '../schema-sample.js';

/** API version that removed `temperature`, `top_p` and `top_k`; SDK 1.x sends it. */
export const VERSION_WITHOUT_SAMPLING = '2026-10-21';
const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
const MAX_CITED_DOCUMENTS = 3;

export interface CitableDocument {
  /** Position among all document blocks of the request, which is what citations refer to. */
  index: number;
  title: string | null;
  text: string;
}

export interface MessageRequest {
  model: string;
  maxTokens: number;
  messages: Json[];
  mode: 'text' | 'tool' | 'json_schema';
  tool?: { name: string; schema: unknown };
  schema?: unknown;
  stopSequences: string[];
  citable: CitableDocument[];
  /** See `parseMessageRequest` for the formula. */
  inputTokens: number;
  /** SHA-256 of the serialised params: the seed for everything deterministic about the answer. */
  hash: string;
  /**
   * The prompt up to the last `cache_control` breakpoint of `system` (tools, then system blocks),
   * with its tokens (ceil(characters / 4)); absent without a breakpoint. See prompt-cache.ts.
   */
  cachePrefix?: { text: string; tokens: number };
}

export interface ParseOptions {
  /** The request's `anthropic-version` header. */
  version?: string | undefined;
  /** Prefix of error locations, `requests.3.params.` inside a batch. */
  where?: string;
  /** Inside a batch, where `stream` is not a parameter at all. */
  batch?: boolean;
}

/**
 * Validates a Messages body with Anthropic's wording (`field: problem`) and works out the answer's
 * mode. Input tokens are approximated, documented so tests and estimates can predict them:
 *   ceil(characters of system, message text and text documents / 4) + 3 per message
 *   + ceil(characters of the JSON of `tools` / 4)
 *   + per image (w × h) / 750 after Anthropic's downscaling (1,600 when the size is unknown)
 *   + 1,500 per PDF page.
 */
export function parseMessageRequest(body: unknown, opts: ParseOptions = {}): MessageRequest {
  const where = opts.where ?? '';
  const bad = (field: string, problem: string): ApiError => badRequest(`${where}${field}: ${problem}`);
  if (!isObject(body)) throw badRequest(`${where || 'body: '}Input should be a valid dictionary`);

  if (typeof body.model !== 'string' || body.model === '')
    throw bad('model', body.model === undefined ? 'Field required' : 'Input should be a valid string');
  const maxTokens = body.max_tokens;
  if (maxTokens === undefined) throw bad('max_tokens', 'Field required');
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens)) throw bad('max_tokens', 'Input should be a valid integer');
  if (maxTokens < 1) throw bad('max_tokens', 'Input should be greater than or equal to 1');
  if (body.stream === true) {
    throw opts.batch
      ? bad('stream', 'Extra inputs are not permitted')
      : bad('stream', 'streaming is not supported by the Drover emulator; send stream: false');
  }

  const modern = (opts.version ?? '') >= VERSION_WITHOUT_SAMPLING;
  for (const key of ['temperature', 'top_p', 'top_k'] as const) {
    const v = body[key];
    if (v === undefined) continue;
    if (modern) throw bad(key, 'Extra inputs are not permitted');
    if (typeof v !== 'number') throw bad(key, 'Input should be a valid number');
    if (key === 'top_k' ? !Number.isInteger(v) || v < 0 : v < 0 || v > 1)
      throw bad(key, `Input should be ${key === 'top_k' ? 'a non-negative integer' : 'between 0 and 1'}`);
  }

  let chars = 0;
  let mediaTokens = 0;
  const system = body.system;
  if (typeof system === 'string') chars += system.length;
  else if (Array.isArray(system)) {
    system.forEach((block, i) => {
      if (!isObject(block) || block.type !== 'text' || typeof block.text !== 'string')
        throw bad(`system.${i}`, 'Input should be a text block');
      chars += block.text.length;
    });
  } else if (system !== undefined) throw bad('system', 'Input should be a valid string or list of text blocks');
  // The last system block marked for the prompt cache ends the cached prefix.
  let breakpoint = -1;
  if (Array.isArray(system)) {
    system.forEach((block, i) => {
      const mark = (block as Json).cache_control;
      if (mark === undefined || mark === null) return;
      if (!isObject(mark) || mark.type !== 'ephemeral') throw bad(`system.${i}.cache_control.type`, "Input should be 'ephemeral'");
      if (mark.ttl !== undefined && mark.ttl !== '5m' && mark.ttl !== '1h')
        throw bad(`system.${i}.cache_control.ttl`, "Input should be '5m' or '1h'");
      breakpoint = i;
    });
  }

  const messages = body.messages;
  if (messages === undefined) throw bad('messages', 'Field required');
  if (!Array.isArray(messages)) throw bad('messages', 'Input should be a valid list');
  if (messages.length === 0) throw bad('messages', 'at least one message is required');
  const citable: CitableDocument[] = [];
  let documentIndex = 0;
  messages.forEach((m, i) => {
    if (!isObject(m)) throw bad(`messages.${i}`, 'Input should be a valid dictionary');
    if (m.role !== 'user' && m.role !== 'assistant') throw bad(`messages.${i}.role`, "Input should be 'user' or 'assistant'");
    const content = m.content;
    const last = i === messages.length - 1;
    if (typeof content === 'string') {
      if (content === '' && !(last && m.role === 'assistant'))
        throw bad(`messages.${i}`, 'all messages must have non-empty content except for the optional final assistant message');
      chars += content.length;
      return;
    }
    if (!Array.isArray(content)) throw bad(`messages.${i}.content`, 'Input should be a valid string or list of content blocks');
    if (content.length === 0 && !(last && m.role === 'assistant'))
      throw bad(`messages.${i}`, 'all messages must have non-empty content except for the optional final assistant message');
    content.forEach((block, j) => {
      const at = `messages.${i}.content.${j}`;
      if (!isObject(block) || typeof block.type !== 'string') throw bad(`${at}.type`, 'Field required');
      switch (block.type) {
        case 'text':
          if (typeof block.text !== 'string') throw bad(`${at}.text`, 'Field required');
          if (modern && m.role === 'user' && Array.isArray(block.citations) && block.citations.length > 0) {
            throw bad(`${at}.citations`, 'citations are not allowed on text blocks in user messages');
          }
          chars += block.text.length;
          return;
        case 'image':
          mediaTokens += anthropicImageTokens(sourceBytes(block.source, `${where}${at}.source`, IMAGE_TYPES));
          return;
        case 'document': {
          if (modern && m.role === 'assistant') throw bad(at, 'document blocks are not allowed in assistant messages');
          const doc = documentOf(block, `${where}${at}`);
          chars += doc.chars;
          mediaTokens += doc.tokens;
          if (doc.text !== undefined && isObject(block.citations) && block.citations.enabled === true && m.role === 'user') {
            citable.push({ index: documentIndex, title: typeof block.title === 'string' ? block.title : null, text: doc.text });
          }
          documentIndex++;
          return;
        }
        case 'tool_result':
          chars += typeof block.content === 'string' ? block.content.length : JSON.stringify(block.content ?? '').length;
          return;
        default:
          // tool_use, thinking, search_result and the rest: accepted, counted by their JSON size.
          chars += JSON.stringify(block).length;
      }
    });
  });

  const tools = body.tools;
  const custom: Array<{ name: string; schema: unknown }> = [];
  if (tools !== undefined) {
    if (!Array.isArray(tools)) throw bad('tools', 'Input should be a valid list');
    tools.forEach((t, k) => {
      if (!isObject(t)) throw bad(`tools.${k}`, 'Input should be a valid dictionary');
      if (t.type !== undefined && t.type !== 'custom') return; // a server tool (web search and so on)
      if (typeof t.name !== 'string' || !TOOL_NAME.test(t.name))
        throw bad(`tools.${k}.name`, `String should match pattern '${TOOL_NAME.source}'`);
      if (!isObject(t.input_schema) || t.input_schema.type !== 'object')
        throw bad(`tools.${k}.input_schema.type`, "Input should be 'object'");
      custom.push({ name: t.name, schema: t.input_schema });
    });
    chars += JSON.stringify(tools).length;
  }

  let tool: MessageRequest['tool'];
  const choice = body.tool_choice;
  if (choice !== undefined) {
    if (!isObject(choice) || !['auto', 'any', 'tool', 'none'].includes(String(choice.type))) {
      throw bad('tool_choice.type', "Input should be 'auto', 'any', 'tool' or 'none'");
    }
    if (choice.type !== 'none' && custom.length === 0 && choice.type !== 'auto')
      throw bad('tool_choice', 'tool_choice may only be specified while providing tools');
    if (choice.type === 'tool') {
      tool = custom.find((t) => t.name === choice.name);
      if (!tool) throw bad('tool_choice.name', `Tool '${String(choice.name)}' not found in 'tools'`);
    } else if (choice.type === 'any') {
      tool = custom[0];
    }
  }

  let schema: unknown;
  const outputConfig = body.output_config;
  if (outputConfig !== undefined && outputConfig !== null) {
    if (!isObject(outputConfig)) throw bad('output_config', 'Input should be a valid dictionary');
    const format = outputConfig.format;
    if (format !== undefined && format !== null) {
      if (!isObject(format) || format.type !== 'json_schema') throw bad('output_config.format.type', "Input should be 'json_schema'");
      if (!isObject(format.schema)) throw bad('output_config.format.schema', 'Field required');
      schema = format.schema;
    }
  }

  const stops = body.stop_sequences;
  if (stops !== undefined && (!Array.isArray(stops) || !stops.every((s) => typeof s === 'string')))
    throw bad('stop_sequences', 'Input should be a valid list of strings');

  const base: Omit<MessageRequest, 'mode'> = {
    model: body.model,
    maxTokens,
    messages: messages as Json[],
    stopSequences: (stops as string[] | undefined) ?? [],
    citable,
    inputTokens: Math.ceil(chars / 4) + 3 * messages.length + mediaTokens,
    hash: hashBody(body),
  };
  if (breakpoint >= 0 && Array.isArray(system)) {
    // Anthropic caches tools, then system, in that order, up to the breakpoint.
    const blocks = (system as Array<{ text: string }>).slice(0, breakpoint + 1).map((b) => b.text);
    const toolsText = tools === undefined ? '' : JSON.stringify(tools);
    base.cachePrefix = { text: JSON.stringify([toolsText, blocks]), tokens: Math.ceil((toolsText.length + blocks.join('').length) / 4) };
  }
  if (tool) return { ...base, mode: 'tool', tool };
  if (schema !== undefined) return { ...base, mode: 'json_schema', schema };
  return { ...base, mode: 'text' };
}

/** Decoded bytes of a base64 source (checking its media type), or undefined for url and file sources. */
function sourceBytes(source: unknown, at: string, mediaTypes: readonly string[]): Buffer | undefined {
  if (!isObject(source)) throw badRequest(`${at}: Field required`);
  switch (source.type) {
    case 'base64':
      if (typeof source.media_type !== 'string' || !mediaTypes.includes(source.media_type)) {
        throw badRequest(`${at}.media_type: Input should be ${mediaTypes.map((t) => `'${t}'`).join(', ')}`);
      }
      if (typeof source.data !== 'string') throw badRequest(`${at}.data: Field required`);
      return Buffer.from(source.data, 'base64');
    case 'url':
      if (typeof source.url !== 'string') throw badRequest(`${at}.url: Field required`);
      return undefined;
    case 'file':
      if (typeof source.file_id !== 'string') throw badRequest(`${at}.file_id: Field required`);
      return undefined;
    default:
      throw badRequest(`${at}.type: Input should be 'base64', 'url' or 'file'`);
  }
}

function documentOf(block: Json, at: string): { chars: number; tokens: number; text?: string } {
  const source = block.source;
  if (isObject(source) && source.type === 'text') {
    if (typeof source.data !== 'string') throw badRequest(`${at}.source.data: Field required`);
    return { chars: source.data.length, tokens: 0, text: source.data };
  }
  if (isObject(source) && source.type === 'content') {
    const c = source.content;
    const text =
      typeof c === 'string'
        ? c
        : Array.isArray(c)
          ? c.map((b) => (isObject(b) && typeof b.text === 'string' ? b.text : '')).join('')
          : undefined;
    if (text === undefined) throw badRequest(`${at}.source.content: Field required`);
    return { chars: text.length, tokens: 0 };
  }
  return { chars: 0, tokens: anthropicPdfTokens(sourceBytes(source, `${at}.source`, ['application/pdf'])) };
}

export interface GenerateOptions {
  /** Cut JSON text in half (still `end_turn`), the failure a parser must survive. */
  malformed?: boolean;
  /** `batch` inside batch results. @default 'standard' */
  serviceTier?: 'standard' | 'batch';
  /** What the prompt cache did with the request's cached prefix (`req.cachePrefix`), if anything. */
  promptCache?: 'read' | 'write' | null;
}

/** Output tokens: ceil(characters of the text, or of the tool input's JSON, / 4). */
export function generateMessage(req: MessageRequest, opts: GenerateOptions = {}): Message {
  const prefixTokens = Math.min(req.cachePrefix?.tokens ?? 0, req.inputTokens);
  const cached = opts.promptCache === 'read' ? prefixTokens : 0;
  const written = opts.promptCache === 'write' ? prefixTokens : 0;
  const rand = seededRandom(req.hash);
  const hints = hintsFrom(lastUserText(req.messages), '');
  let content: ContentBlock[];
  let stopReason: StopReason = 'end_turn';
  let stopSequence: string | null = null;
  let outputChars = 0;
  if (req.mode === 'tool' && req.tool) {
    const input = sampleFromSchema(req.tool.schema, rand, hints);
    content = [{ type: 'tool_use', id: newToolUseId(), name: req.tool.name, input, caller: { type: 'direct' } }];
    stopReason = 'tool_use';
    outputChars = JSON.stringify(input).length;
  } else if (req.mode === 'text' && req.citable.some((d) => d.text.trim() !== '')) {
    content = citedAnswer(req.citable, rand);
    for (const block of content) outputChars += (block as TextBlock).text.length;
  } else {
    let text =
      req.mode === 'json_schema'
        ? JSON.stringify(sampleFromSchema(req.schema, rand, hints))
        : `Echo: ${lastUserText(req.messages).slice(0, 80)}`;
    if (opts.malformed && req.mode === 'json_schema') text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    if (req.mode === 'text') {
      let cut = -1;
      for (const s of req.stopSequences) {
        const at = s === '' ? -1 : text.indexOf(s);
        if (at >= 0 && (cut < 0 || at < cut)) {
          cut = at;
          stopSequence = s;
        }
      }
      if (cut >= 0) {
        text = text.slice(0, cut);
        stopReason = 'stop_sequence';
      }
    }
    if (Math.ceil(text.length / 4) > req.maxTokens) {
      text = text.slice(0, req.maxTokens * 4);
      stopReason = 'max_tokens';
      stopSequence = null;
    }
    content = [{ type: 'text', text, citations: null }];
    outputChars = text.length;
  }
  return {
    id: newMessageId(),
    type: 'message',
    role: 'assistant',
    model: req.model,
    content,
    stop_reason: stopReason,
    stop_sequence: stopSequence,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: {
      // Anthropic's input_tokens are those after the last breakpoint: cache reads and writes are apart.
      input_tokens: req.inputTokens - cached - written,
      output_tokens: Math.ceil(outputChars / 4),
      cache_creation_input_tokens: written,
      cache_read_input_tokens: cached,
      cache_creation: { ephemeral_5m_input_tokens: written, ephemeral_1h_input_tokens: 0 },
      server_tool_use: null,
      service_tier: opts.serviceTier ?? 'standard',
      inference_geo: null,
      output_tokens_details: { thinking_tokens: 0 },
      speed: null,
    },
  };
}

/** One cited sentence per document (up to three), as Claude splits a cited answer into text blocks. */
function citedAnswer(docs: readonly CitableDocument[], rand: () => number): TextBlock[] {
  const blocks: TextBlock[] = [{ type: 'text', text: 'According to the provided documents: ', citations: null }];
  for (const doc of docs.filter((d) => d.text.trim() !== '').slice(0, MAX_CITED_DOCUMENTS)) {
    const sentences: Array<{ start: number; text: string }> = [];
    for (const m of doc.text.matchAll(/[^.!?\n]+[.!?]?/g)) {
      const lead = m[0].length - m[0].trimStart().length;
      const text = m[0].trim();
      if (text !== '') sentences.push({ start: m.index + lead, text });
    }
    const s = sentences[Math.floor(rand() * sentences.length)] as { start: number; text: string };
    const citation: TextCitation = {
      type: 'char_location',
      cited_text: s.text,
      document_index: doc.index,
      document_title: doc.title,
      start_char_index: s.start,
      end_char_index: s.start + s.text.length,
      file_id: null,
    };
    if (blocks.length > 1) blocks.push({ type: 'text', text: ' ', citations: null });
    blocks.push({ type: 'text', text: s.text, citations: [citation] });
  }
  return blocks;
}

function lastUserText(messages: readonly Json[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as Json;
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content))
      return m.content.map((b) => (isObject(b) && b.type === 'text' && typeof b.text === 'string' ? b.text : '')).join('');
  }
  return '';
}
