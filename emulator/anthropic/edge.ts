/** How the shared edge authenticates Anthropic requests and renders their errors. */
import { ApiError, badRequest } from '../api-error.js';
import { bearer, type ProviderEdge } from '../edge.js';
import { headerValue, type Router } from '../routing.js';

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
