/** The inner object of OpenAI's error body; the SDK exposes it as `APIError.error`. */
export interface OpenAIErrorObject {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/**
 * Thrown by handlers and mapped to `{"error": {...}}` with `status` at the edge, so a handler never
 * writes an error response itself.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toObject(): OpenAIErrorObject {
    return { message: this.message, type: this.type, param: this.param, code: this.code };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null): ApiError =>
  new ApiError(400, message, 'invalid_request_error', param, code);

export const notFound = (message: string, param: string | null = null): ApiError =>
  new ApiError(404, message, 'invalid_request_error', param, null);

/** The bodies OpenAI sends for statuses the fault injector can produce (529 is Anthropic's overload). */
export function faultError(status: number, retryAfterS?: number): ApiError {
  const headers: Record<string, string> = {};
  if (retryAfterS !== undefined) {
    headers['retry-after'] = String(retryAfterS);
    headers['retry-after-ms'] = String(Math.round(retryAfterS * 1000));
  }
  switch (status) {
    case 429:
      return new ApiError(
        429,
        'Rate limit reached for requests (emulated). Please try again later.',
        'requests',
        null,
        'rate_limit_exceeded',
        headers,
      );
    case 400:
      return new ApiError(400, 'Bad request (emulated fault).', 'invalid_request_error', null, null, headers);
    case 502:
      return new ApiError(502, 'Bad gateway.', 'server_error', null, null, headers);
    case 503:
      return new ApiError(503, 'The engine is currently overloaded, please try again later.', 'server_error', null, null, headers);
    case 504:
      return new ApiError(504, 'Gateway timeout.', 'server_error', null, null, headers);
    case 529:
      return new ApiError(529, 'Overloaded', 'overloaded_error', null, null, headers);
    default:
      return new ApiError(
        status,
        'The server had an error while processing your request. Sorry about that!',
        status >= 500 ? 'server_error' : 'invalid_request_error',
        null,
        null,
        headers,
      );
  }
}
