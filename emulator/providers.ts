/**
 * The three providers share one port, so the edge first decides whom a request is for, then uses
 * that provider's credentials check, error body and response headers. Handlers stay provider-neutral
 * in how they fail: they throw `ApiError`s with an HTTP status, and the edge renders them.
 *
 * Deciding is by header before path, because the Gemini SDK (3.x, API version `v1`) and the OpenAI
 * SDK both use `/v1/batches` and `/v1/files`: only Gemini sends `x-goog-api-key`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError, badRequest } from './api-error.js';
import { headerValue, type Reply, type Router } from './routing.js';

export type ProviderName = 'openai' | 'anthropic' | 'gemini';

/** Regex source for the `:version` segment of Gemini routes. */
export const GEMINI_VERSIONS = 'v1|v1beta|v1alpha';

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
  if (path === '/v1/messages' || path.startsWith('/v1/messages/') || headers['anthropic-version'] !== undefined || headers['x-api-key'] !== undefined) {
    return 'anthropic';
  }
  return 'openai';
}

const bearer = (headers: IncomingHttpHeaders): boolean => /^Bearer\s+\S+/i.test(headerValue(headers, 'authorization') ?? '');

/**
 * Any credential is accepted and none is ever stored, logged or echoed (the real APIs' "Incorrect
 * API key provided: sk-..." would leak keys into test logs).
 */
export function openaiEdge(router: Router): ProviderEdge {
  return {
    name: 'openai',
    router,
    authenticate(_path, headers) {
      const header = headerValue(headers, 'authorization');
      if (!bearer(headers)) {
        throw new ApiError(
          401,
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
          'invalid_request_error',
          null,
          header ? 'invalid_api_key' : null,
        );
      }
    },
    notFound: (method, path) => new ApiError(404, `Invalid URL (${method} ${path})`),
    internalError: () => new ApiError(500, 'The server had an error while processing your request. Sorry about that!', 'server_error'),
    errorReply: (err) => ({ status: err.status, json: { error: err.toObject() }, headers: err.headers }),
    responseHeaders: () => ({}),
  };
}

const ANTHROPIC_ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

export const anthropicErrorType = (status: number): string =>
  ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');

/** Anthropic's ErrorResponse, also the `error` of an errored batch result. */
export const anthropicErrorBody = (err: ApiError, requestId: string): Record<string, unknown> => ({
  type: 'error',
  error: { type: anthropicErrorType(err.status), message: err.message },
  request_id: requestId,
});

/** SDK 1.x sends `Authorization: Bearer`, 0.x sends `x-api-key`; both are fine, with any `anthropic-version`. */
export function anthropicEdge(router: Router): ProviderEdge {
  return {
    name: 'anthropic',
    router,
    authenticate(_path, headers) {
      const apiKey = headerValue(headers, 'x-api-key');
      if (!(apiKey && apiKey.trim() !== '') && !bearer(headers)) {
        const message = apiKey !== undefined || headers.authorization ? 'invalid x-api-key' : 'x-api-key header is required';
        throw new ApiError(401, message, 'authentication_error');
      }
      if (!headerValue(headers, 'anthropic-version')) throw badRequest('anthropic-version: header is required');
    },
    notFound: () => new ApiError(404, 'Not Found', 'not_found_error'),
    internalError: () => new ApiError(500, 'Internal server error', 'api_error'),
    errorReply: (err, requestId) => ({ status: err.status, json: anthropicErrorBody(err, requestId), headers: err.headers }),
    responseHeaders: (requestId) => ({ 'request-id': requestId }),
  };
}

const RPC_STATUS: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
  529: 'UNAVAILABLE',
};

const GRPC_CODES: Readonly<Record<string, number>> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
};

/** A Gemini error with an explicit `google.rpc.Code` name (else it is derived from the HTTP status). */
export const geminiError = (status: number, message: string, rpcStatus?: string): ApiError =>
  new ApiError(status, message, 'gemini', null, rpcStatus ?? null);

export function rpcStatusOf(err: ApiError): string {
  if (err.code !== null && /^[A-Z_]+$/.test(err.code)) return err.code;
  return RPC_STATUS[err.status] ?? (err.status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
}

/** A `google.rpc.Status`, the shape of a failed batch item and of a failed Operation. */
export function rpcStatusBody(err: ApiError): { code: number; message: string } {
  return { code: GRPC_CODES[rpcStatusOf(err)] ?? 2, message: err.message };
}

/**
 * Google's error body. There is no `Retry-After` header: the wait travels as a RetryInfo detail,
 * the only place the Gemini API puts it, and the SDK surfaces the body as the ApiError message.
 */
export function geminiErrorReply(err: ApiError): Reply {
  const headers: Record<string, string> = { ...err.headers };
  const retryMs = headers['retry-after-ms'] !== undefined ? Number(headers['retry-after-ms']) : Number(headers['retry-after'] ?? Number.NaN) * 1000;
  for (const name of Object.keys(headers)) if (name.startsWith('retry-after')) delete headers[name];
  const details: Array<Record<string, unknown>> = [];
  if (err.status === 429 && (err.type === 'requests' || err.type === 'tokens')) {
    details.push({
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [
        {
          quotaMetric: `generativelanguage.googleapis.com/generate_content_${err.type === 'requests' ? 'requests' : 'input_token_count'}`,
          quotaId: `GenerateContent${err.type === 'requests' ? 'Requests' : 'InputTokens'}PerMinutePerProjectPerModel`,
        },
      ],
    });
  }
  if (Number.isFinite(retryMs)) {
    details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${Math.max(0, Math.ceil(retryMs / 1000))}s` });
  }
  const error = { code: err.status, message: err.message, status: rpcStatusOf(err), ...(details.length > 0 ? { details } : {}) };
  return { status: err.status, json: { error }, headers };
}

/** `x-goog-api-key` (what the SDK sends), a `key` query parameter or an OAuth bearer token. */
export function geminiEdge(router: Router): ProviderEdge {
  return {
    name: 'gemini',
    router,
    authenticate(path, headers, query) {
      // A resumable upload session URL is its own credential, as on the real API.
      if (path.startsWith('/upload/') && query.has('upload_id')) return;
      const key = headerValue(headers, 'x-goog-api-key') ?? query.get('key') ?? undefined;
      if (key !== undefined) {
        if (key.trim() === '') throw geminiError(400, 'API key not valid. Please pass a valid API key.', 'INVALID_ARGUMENT');
        return;
      }
      if (bearer(headers)) return;
      throw geminiError(
        403,
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        'PERMISSION_DENIED',
      );
    },
    notFound: (method, path) => geminiError(404, `The requested URL ${method} ${path} was not found on this server.`, 'NOT_FOUND'),
    internalError: () => geminiError(500, 'Internal error encountered.', 'INTERNAL'),
    errorReply: (err) => geminiErrorReply(err),
    responseHeaders: () => ({}),
  };
}
