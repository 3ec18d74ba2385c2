/** `POST /v1/messages` and `POST /v1/messages/count_tokens`: Anthropic's realtime counterpart of a batch request. */
import { ApiError } from '../api-error.js';
import type { FaultState } from '../faults.js';
import { headerValue, jsonBody, type RequestContext, type Router } from '../routing.js';
import type { PromptCache } from '../prompt-cache.js';
import type { EmulatorStats } from '../stats.js';
import { generateMessage, parseMessageRequest, type MessageRequest } from './message.js';

/** The Messages API refuses bodies over 32 MB. */
const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
export const ANTHROPIC_UNPARSEABLE = 'There was an error parsing the body of your request: it is not valid JSON.';

const parse = (ctx: RequestContext): MessageRequest =>
  parseMessageRequest(jsonBody(ctx, ANTHROPIC_UNPARSEABLE), { version: headerValue(ctx.headers, 'anthropic-version') });

export function registerAnthropicMessageRoutes(router: Router, faults: FaultState, stats: EmulatorStats, promptCache?: PromptCache): void {
  router
    .add('POST', '/v1/messages', (ctx) => {
      if (ctx.body.length > MAX_MESSAGE_BYTES) throw tooLarge(MAX_MESSAGE_BYTES);
      const req = parse(ctx);
      const headers = faults.admitRealtime('anthropic', req.model, req.inputTokens);
      const malformed = req.mode === 'json_schema' && faults.malformedChat(req.hash);
      const message = generateMessage(req, { malformed, promptCache: touchPrefix(promptCache, req) });
      stats.anthropic.messages++;
      return { json: message, headers };
    })
    .add('POST', '/v1/messages/count_tokens', (ctx) => {
      // count_tokens takes a Messages body without max_tokens.
      const body = jsonBody(ctx, ANTHROPIC_UNPARSEABLE);
      const req = parseMessageRequest({ max_tokens: 1, ...body }, { version: headerValue(ctx.headers, 'anthropic-version') });
      return { json: { input_tokens: req.inputTokens } };
    });
}

export const tooLarge = (max: number): ApiError =>
  new ApiError(413, `Request exceeds the maximum allowed number of bytes (${max}).`, 'request_too_large');

/** What the emulator's prompt cache does with a request's cached prefix (none without a breakpoint). */
export function touchPrefix(cache: PromptCache | undefined, req: MessageRequest): 'read' | 'write' | null {
  return cache && req.cachePrefix ? cache.touch('anthropic', req.model, req.cachePrefix.text, req.cachePrefix.tokens) : null;
}
