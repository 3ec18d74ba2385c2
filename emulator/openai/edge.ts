/** How the shared edge authenticates OpenAI requests and renders their errors. */
import { ApiError } from '../api-error.js';
import { bearer, type ProviderEdge } from '../edge.js';
import { headerValue, type Router } from '../routing.js';

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
