/** How the shared edge authenticates Gemini requests and renders their errors (`google.rpc.Status`). */
import { ApiError } from '../api-error.js';
import { bearer, type ProviderEdge } from '../edge.js';
import { headerValue, type Reply, type Router } from '../routing.js';

/** Regex source for the `:version` segment of Gemini routes. */
export const GEMINI_VERSIONS = 'v1|v1beta|v1alpha';

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
  const retryMs =
    headers['retry-after-ms'] !== undefined ? Number(headers['retry-after-ms']) : Number(headers['retry-after'] ?? Number.NaN) * 1000;
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
