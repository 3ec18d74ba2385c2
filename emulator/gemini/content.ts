/**
 * The emulated Gemini: turns a GenerateContentRequest into a GenerateContentResponse. Used by
 * `models/*:generateContent` and by batch requests (inline or file lines), so a request gives the
 * same content either way. Pure apart from `responseId`.
 *
 * Field names are accepted in both proto JSON spellings (`generationConfig` and
 * `generation_config`), because batch input files are often written in snake_case.
 */
import type { ApiError } from '../api-error.js';
import { hashBody, newGeminiResponseId, seededRandom, sha256 } from '../ids.js';
import { isObject, type Json } from '../json.js';
import { geminiMediaTokens } from '../media-tokens.js';
import { hintsFrom } from '../plausible.js';
import { chooseEnum, sampleFromSchema } from '../schema-sample.js';
import { geminiError } from './edge.js';
import { openApiToJsonSchema } from './schema.js';

const snake = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** A proto field under either of its JSON names. */
const field = (o: Json, camel: string): unknown => o[camel] ?? o[snake(camel)];

const MIME_TYPES = ['text/plain', 'application/json', 'text/x.enum', 'application/xml', 'application/yaml'];

export interface GenerateRequest {
  /** Without the `models/` prefix. */
  model: string;
  contents: Json[];
  mode: 'text' | 'json' | 'enum';
  /** JSON Schema (a `responseSchema` converted), for `json` and `enum`. */
  schema?: unknown;
  candidateCount: number;
  maxOutputTokens?: number;
  stopSequences: string[];
  promptTokens: number;
  /** Prompt tokens per modality (TEXT, IMAGE, DOCUMENT, …), as usageMetadata reports them. */
  promptModalities: Record<string, number>;
  /** SHA-256 of the serialised request: the seed for everything deterministic about the answer. */
  hash: string;
}

const invalid = (message: string): ApiError => geminiError(400, message, 'INVALID_ARGUMENT');

/**
 * Validates the request as the API does and works out the answer's mode. Prompt tokens are
 * approximated, documented so tests and estimates can predict them:
 *   ceil(characters of all text parts and the system instruction / 4)
 *   + 258 per image up to 384 px a side (else 258 per 768 px tile), 258 per PDF page, 258 per other media part.
 */
export function parseGenerateRequest(body: unknown, model: string): GenerateRequest {
  if (!isObject(body)) throw invalid('Invalid JSON payload received. Expected a GenerateContentRequest object.');
  const bareModel = model.replace(/^models\//, '');
  const contents = body.contents;
  if (contents === undefined || (Array.isArray(contents) && contents.length === 0)) {
    throw invalid('* GenerateContentRequest.contents: contents is not specified\n');
  }
  if (!Array.isArray(contents)) throw invalid("Invalid value at 'contents': expected a list of Content.");

  let chars = 0;
  const modalities: Record<string, number> = {};
  const countParts = (parts: unknown, at: string): void => {
    if (!Array.isArray(parts) || parts.length === 0)
      throw invalid(`* GenerateContentRequest.${at}.parts: contents.parts must not be empty.\n`);
    for (const part of parts) {
      if (!isObject(part)) throw invalid(`* GenerateContentRequest.${at}.parts: a part must be an object.\n`);
      if (typeof part.text === 'string') {
        chars += part.text.length;
        continue;
      }
      const inline = field(part, 'inlineData');
      const file = field(part, 'fileData');
      const media = isObject(inline) ? inline : isObject(file) ? file : undefined;
      if (media) {
        const mimeType = String(field(media, 'mimeType') ?? '');
        if (mimeType === '')
          throw invalid(`* GenerateContentRequest.${at}.parts: inline_data.mime_type and file_data.mime_type are required.\n`);
        const data = media === inline && typeof media.data === 'string' ? Buffer.from(media.data, 'base64') : undefined;
        const modality = mimeType === 'application/pdf' ? 'DOCUMENT' : (mimeType.split('/')[0] ?? '').toUpperCase() || 'TEXT';
        modalities[modality] = (modalities[modality] ?? 0) + geminiMediaTokens(mimeType, data);
        continue;
      }
      // functionCall, functionResponse, executableCode and the rest: counted by their JSON size.
      chars += JSON.stringify(part).length;
    }
  };
  contents.forEach((content, i) => {
    if (!isObject(content)) throw invalid(`* GenerateContentRequest.contents[${i}]: must be a Content object.\n`);
    if (content.role !== undefined && content.role !== 'user' && content.role !== 'model' && content.role !== 'function') {
      throw invalid('Please use a valid role: user, model.');
    }
    countParts(content.parts, `contents[${i}]`);
  });
  const system = field(body, 'systemInstruction');
  if (system !== undefined) {
    if (typeof system === 'string') chars += system.length;
    else if (isObject(system)) countParts(system.parts, 'system_instruction');
    else throw invalid('* GenerateContentRequest.system_instruction: must be a Content object.\n');
  }
  for (const extra of ['tools', 'toolConfig']) {
    const v = field(body, extra);
    if (v !== undefined) chars += JSON.stringify(v).length;
  }

  const config = field(body, 'generationConfig') ?? {};
  if (!isObject(config)) throw invalid('* GenerateContentRequest.generation_config: must be an object.\n');
  const mimeType = field(config, 'responseMimeType') ?? 'text/plain';
  if (typeof mimeType !== 'string' || !MIME_TYPES.includes(mimeType)) {
    throw invalid(
      `* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are ${MIME_TYPES.map((m) => `\`${m}\``).join(', ')}.\n`,
    );
  }
  const openApi = field(config, 'responseSchema');
  const jsonSchema = field(config, 'responseJsonSchema');
  if (openApi !== undefined && jsonSchema !== undefined) {
    throw invalid('* GenerateContentRequest.generation_config: response_schema and response_json_schema cannot both be set.\n');
  }
  const schema = openApi !== undefined ? openApiToJsonSchema(openApi) : jsonSchema;
  if (schema !== undefined && mimeType !== 'application/json' && mimeType !== 'text/x.enum') {
    throw invalid(
      '* GenerateContentRequest.generation_config.response_mime_type: a response schema requires response_mime_type application/json or text/x.enum.\n',
    );
  }
  if (mimeType === 'text/x.enum' && !(isObject(schema) && Array.isArray(schema.enum) && schema.enum.length > 0)) {
    throw invalid('* GenerateContentRequest.generation_config.response_schema: text/x.enum requires a schema with a non-empty enum.\n');
  }
  const candidateCount = field(config, 'candidateCount') ?? 1;
  if (typeof candidateCount !== 'number' || !Number.isInteger(candidateCount) || candidateCount < 1 || candidateCount > 8) {
    throw invalid('* GenerateContentRequest.generation_config.candidate_count: must be between 1 and 8.\n');
  }
  const maxOutputTokens = field(config, 'maxOutputTokens');
  if (maxOutputTokens !== undefined && (typeof maxOutputTokens !== 'number' || !Number.isInteger(maxOutputTokens) || maxOutputTokens < 1)) {
    throw invalid('* GenerateContentRequest.generation_config.max_output_tokens: must be a positive integer.\n');
  }
  const stops = field(config, 'stopSequences') ?? [];
  if (!Array.isArray(stops) || !stops.every((s) => typeof s === 'string')) {
    throw invalid('* GenerateContentRequest.generation_config.stop_sequences: must be a list of strings.\n');
  }

  const textTokens = Math.ceil(chars / 4);
  const promptModalities = { TEXT: textTokens, ...modalities };
  return {
    model: bareModel,
    contents: contents as Json[],
    mode: mimeType === 'application/json' ? 'json' : mimeType === 'text/x.enum' ? 'enum' : 'text',
    ...(schema !== undefined ? { schema } : {}),
    candidateCount,
    ...(maxOutputTokens !== undefined ? { maxOutputTokens } : {}),
    stopSequences: stops as string[],
    promptTokens: Object.values(promptModalities).reduce((a, b) => a + b, 0),
    promptModalities,
    hash: hashBody(body),
  };
}

export interface GeminiCandidate {
  content: { parts: Array<{ text: string }>; role: 'model' };
  finishReason: 'STOP' | 'MAX_TOKENS';
  index: number;
}

/** The wire GenerateContentResponse (the SDK's class adds getters such as `.text` on top). */
export interface GeminiResponse {
  candidates: GeminiCandidate[];
  usageMetadata: {
    promptTokenCount: number;
    candidatesTokenCount: number;
    totalTokenCount: number;
    cachedContentTokenCount: number;
    thoughtsTokenCount: number;
    promptTokensDetails: Array<{ modality: string; tokenCount: number }>;
  };
  modelVersion: string;
  responseId: string;
}

export interface GenerateOptions {
  /** Cut JSON text in half (still `STOP`), the failure a parser must survive. */
  malformed?: boolean;
}

/** Candidate tokens: ceil(characters of each candidate's text / 4), summed. */
export function generateContent(req: GenerateRequest, opts: GenerateOptions = {}): GeminiResponse {
  const candidates: GeminiCandidate[] = [];
  let outputTokens = 0;
  for (let index = 0; index < req.candidateCount; index++) {
    const seed = index === 0 ? req.hash : sha256(`${req.hash}:${index}`);
    let text = render(req, seed);
    let finishReason: GeminiCandidate['finishReason'] = 'STOP';
    if (opts.malformed && req.mode === 'json') text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    if (req.mode === 'text') {
      for (const s of req.stopSequences) {
        const at = s === '' ? -1 : text.indexOf(s);
        if (at >= 0) text = text.slice(0, at);
      }
    }
    if (req.maxOutputTokens !== undefined && Math.ceil(text.length / 4) > req.maxOutputTokens) {
      text = text.slice(0, req.maxOutputTokens * 4);
      finishReason = 'MAX_TOKENS';
    }
    outputTokens += Math.ceil(text.length / 4);
    candidates.push({ content: { parts: [{ text }], role: 'model' }, finishReason, index });
  }
  return {
    candidates,
    usageMetadata: {
      promptTokenCount: req.promptTokens,
      candidatesTokenCount: outputTokens,
      totalTokenCount: req.promptTokens + outputTokens,
      cachedContentTokenCount: 0,
      thoughtsTokenCount: 0,
      promptTokensDetails: Object.entries(req.promptModalities).map(([modality, tokenCount]) => ({ modality, tokenCount })),
    },
    modelVersion: req.model,
    responseId: newGeminiResponseId(),
  };
}

function render(req: GenerateRequest, seed: string): string {
  const rand = seededRandom(seed);
  const hints = hintsFrom(lastUserText(req.contents), '');
  switch (req.mode) {
    case 'json':
      return JSON.stringify(
        req.schema === undefined
          ? { echo: lastUserText(req.contents).slice(0, 80), digest: seed.slice(0, 12) }
          : sampleFromSchema(req.schema, rand, hints),
      );
    case 'enum': {
      return String(chooseEnum((req.schema as Json).enum as unknown[], rand, hints));
    }
    default:
      return `Echo: ${lastUserText(req.contents).slice(0, 80)}`;
  }
}

function lastUserText(contents: readonly Json[]): string {
  for (let i = contents.length - 1; i >= 0; i--) {
    const c = contents[i] as Json;
    if (c.role !== undefined && c.role !== 'user') continue;
    const parts = Array.isArray(c.parts) ? c.parts : [];
    return parts.map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : '')).join('');
  }
  return '';
}
