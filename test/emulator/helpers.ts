import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { Ajv2020 } from 'ajv/dist/2020.js';
import OpenAI, { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import type { ChatCompletion } from 'openai/resources/chat/completions';

export const TERMINAL: ReadonlySet<Batch['status']> = new Set(['completed', 'failed', 'expired', 'cancelled']);

export function sdkClient(baseURL: string, maxRetries = 0): OpenAI {
  return new OpenAI({ apiKey: 'sk-test-never-echoed', baseURL, maxRetries });
}

/** SDK 1.x defaults: `Authorization: Bearer` and `anthropic-version: 2026-10-21`. */
export function anthropicClient(baseURL: string, opts: { maxRetries?: number; version?: string } = {}): Anthropic {
  return new Anthropic({
    apiKey: 'sk-ant-test-never-echoed',
    baseURL,
    maxRetries: opts.maxRetries ?? 0,
    ...(opts.version ? { defaultHeaders: { 'anthropic-version': opts.version } } : {}),
  });
}

/** The SDK's default API version (v1 in 3.x) unless told otherwise; it never retries by default. */
export function geminiClient(baseUrl: string, apiVersion?: string): GoogleGenAI {
  return new GoogleGenAI({ apiKey: 'gemini-test-key', httpOptions: { baseUrl, ...(apiVersion ? { apiVersion } : {}) } });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface InputLine {
  custom_id: string;
  method: 'POST';
  url: '/v1/chat/completions';
  body: Record<string, unknown>;
}

export function chatLine(customId: string, body: Record<string, unknown>): InputLine {
  return { custom_id: customId, method: 'POST', url: '/v1/chat/completions', body };
}

export function textLines(n: number, prefix = 'req'): InputLine[] {
  return Array.from({ length: n }, (_, i) =>
    chatLine(`${prefix}-${i}`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Question number ${i}` }] }),
  );
}

export async function uploadJsonl(client: OpenAI, lines: ReadonlyArray<InputLine | string>, name = 'in.jsonl'): Promise<string> {
  const text = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
  const file = await client.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'batch' });
  return file.id;
}

export async function createBatch(
  client: OpenAI,
  lines: ReadonlyArray<InputLine | string>,
  metadata?: Record<string, string>,
): Promise<Batch> {
  const input_file_id = await uploadJsonl(client, lines);
  return client.batches.create({
    input_file_id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    ...(metadata ? { metadata } : {}),
  });
}

export async function waitForBatch(client: OpenAI, id: string, until: ReadonlySet<string> = TERMINAL, timeoutMs = 10_000): Promise<Batch> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (until.has(batch.status)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: ChatCompletion & { error?: Record<string, unknown> } } | null;
  error: { code: string; message: string } | null;
}

export async function readJsonl(client: OpenAI, fileId: string | null | undefined): Promise<OutputLine[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as OutputLine);
}

/** Ajv without ajv-formats (not a direct dependency): the formats the sampler emits, as regexes. */
export function makeAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  ajv.addFormat('email', /^[^\s@]+@[^\s@]+\.[^\s@]+$/);
  ajv.addFormat('date', /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/);
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  ajv.addFormat('uri', /^https?:\/\/\S+$/);
  return ajv;
}

export const PERSON_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 3, maxLength: 10 },
    age: { type: 'integer', minimum: 18, maximum: 99 },
    score: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    tags: { type: 'array', items: { type: 'string', enum: ['a', 'b', 'c'] }, minItems: 2, maxItems: 3, uniqueItems: true },
    email: { type: 'string', format: 'email' },
    born: { type: 'string', format: 'date' },
    seen: { type: 'string', format: 'date-time' },
    kind: { const: 'person' },
    nickname: { type: ['string', 'null'] },
    active: { type: 'boolean' },
    address: { $ref: '#/$defs/address' },
  },
  required: ['name', 'age', 'score', 'tags', 'email', 'born', 'seen', 'kind', 'nickname', 'active', 'address'],
  additionalProperties: false,
  $defs: {
    address: {
      type: 'object',
      properties: { city: { type: 'string' }, zip: { type: 'string', minLength: 5, maxLength: 5 } },
      required: ['city', 'zip'],
      additionalProperties: false,
    },
  },
} as const;
