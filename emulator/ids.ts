import { createHash, randomBytes } from 'node:crypto';
import { mulberry32 } from './random.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// A batch mints three ids per line; drawing them from a pooled buffer instead of one
// randomBytes() call each keeps 50,000-line batches fast.
const POOL_SIZE = 64 * 1024;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

function take(bytes: number): Buffer {
  if (poolOffset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const out = pool.subarray(poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return out;
}

function base62(length: number): string {
  let out = '';
  for (const b of take(length)) out += BASE62[b % 62];
  return out;
}

const hex = (bytes: number): string => take(bytes).toString('hex');

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';
function base36(length: number): string {
  let out = '';
  for (const b of take(length)) out += BASE36[b % 36];
  return out;
}

/** Ids look like OpenAI's (prefix + opaque token) so log-reading and id-shape checks behave the same. */
export const newFileId = (): string => `file-${base62(22)}`;
export const newBatchId = (): string => `batch_${hex(16)}`;
export const newBatchRequestId = (): string => `batch_req_${base62(24)}`;
export const newChatCompletionId = (): string => `chatcmpl-${base62(29)}`;
export const newRequestId = (): string => `req_${hex(16)}`;

/** Anthropic's ids: `msg_…`, `toolu_…`, `msgbatch_…` followed by an opaque base62 token. */
export const newMessageId = (): string => `msg_${base62(24)}`;
export const newToolUseId = (): string => `toolu_${base62(24)}`;
export const newMessageBatchId = (): string => `msgbatch_${base62(24)}`;

/** Gemini resource ids (`batches/ID`, `files/ID`) are lowercase alphanumerics. */
export const newGeminiId = (): string => base36(16);
export const newGeminiResponseId = (): string => base62(22);

/** Hex SHA-256; stable across processes, so "same request, same output" holds between runs too. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The seed of everything deterministic about an answer: the same body gives the same output. */
export const hashBody = (body: unknown): string => sha256(JSON.stringify(body) ?? '');

/** Output must depend only on the request, never on Math.random, or outputs stop being reproducible. */
export function seededRandom(seedHex: string): () => number {
  return mulberry32(Number.parseInt(seedHex.slice(0, 8), 16));
}

export const nowSeconds = (ms: number = Date.now()): number => Math.floor(ms / 1000);

/** RFC 3339 in UTC, as Anthropic and Google send timestamps. */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString();
