import { createHash } from 'node:crypto';
import type { ChatMessage, ResponseFormat } from './batch-spec.js';

/** What a result cache may answer from: `cache: "use"` looks up and remembers, `refresh` only remembers, `off` neither. */
export type CacheMode = 'use' | 'refresh' | 'off';

/** Everything that determines an answer, as sent: never a key or anything else of the caller's account. */
export interface CacheableRequest {
  model: string;
  messages: ChatMessage[];
  response_format?: ResponseFormat | undefined;
  max_output_tokens?: number | undefined;
  citations?: boolean | undefined;
}

/** Bumped when the key's ingredients change, so old entries are never read under a new meaning. */
const KEY_VERSION = 1;

/**
 * The result-cache key of one request: a SHA-256 of a canonical JSON (keys sorted, undefined
 * dropped) of the provider and the request as it is sent, so two batches that would send the
 * same bytes share an answer whatever order their settings were written in.
 */
export function requestCacheKey(provider: string, request: CacheableRequest): string {
  return createHash('sha256')
    .update(canonicalJson({ v: KEY_VERSION, provider, request }))
    .digest('hex');
}

/** JSON with object keys in code-point order at every depth; `undefined` fields are left out, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
