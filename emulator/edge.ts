/**
 * The three providers share one port, so the edge first decides whom a request is for, then uses
 * that provider's credentials check, error body and response headers. Handlers stay provider-neutral
 * in how they fail: they throw `ApiError`s with an HTTP status, and the edge renders them.
 *
 * Deciding is by header before path, because the Gemini SDK (3.x, API version `v1`) and the OpenAI
 * SDK both use `/v1/batches` and `/v1/files`: only Gemini sends `x-goog-api-key`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiError } from './api-error.js';
import { headerValue, type Reply, type Router } from './routing.js';

export type ProviderName = 'openai' | 'anthropic' | 'gemini';

export interface ProviderEdge {
  readonly name: ProviderName;
  readonly router: Router;
  /** Throws the provider's 401/403 when the request carries no credential it would accept. */
  authenticate(path: string, headers: IncomingHttpHeaders, query: URLSearchParams): void;
  notFound(method: string, path: string): ApiError;
  /** What an unexpected exception in a handler is reported as. */
  internalError(): ApiError;
  errorReply(err: ApiError, requestId: string): Reply;
  /** Sent with every response, besides `x-request-id`. */
  responseHeaders(requestId: string): Record<string, string>;
}

export function detectProvider(path: string, headers: IncomingHttpHeaders, query: URLSearchParams): ProviderName {
  if (headers['x-goog-api-key'] !== undefined || query.has('key')) return 'gemini';
  if (/^\/(upload|download)\//.test(path) || /^\/v1(beta|alpha)\//.test(path) || /^\/v1\/(models|tunedModels)\/[^/]*:/.test(path)) {
    return 'gemini';
  }
  if (
    path === '/v1/messages' ||
    path.startsWith('/v1/messages/') ||
    headers['anthropic-version'] !== undefined ||
    headers['x-api-key'] !== undefined
  ) {
    return 'anthropic';
  }
  return 'openai';
}

/** An `Authorization: Bearer …` header, which every provider accepts in some form. */
export const bearer = (headers: IncomingHttpHeaders): boolean => /^Bearer\s+\S+/i.test(headerValue(headers, 'authorization') ?? '');
